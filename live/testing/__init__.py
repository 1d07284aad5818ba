"""Test helpers shipped with the package: synthetic signals, test videos with known answers,
a private PulseAudio sound device, virtual MIDI ports on a private JACK server (jackmidi).
Benchmarks and tests use them; runtime code never imports this package (tests/test_imports.py
checks)."""
