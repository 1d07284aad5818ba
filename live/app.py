"""The live show: wires sound, features, control, motion, generator and renderer together.

Threads (DESIGN.md, "Threads and hand-off"):

- audio callback (inside the source): copies blocks into the ring buffer and returns;
- ``analysis``: reads the ring hop by hop, publishes the newest :class:`FeatureFrame`;
- ``osc``: the OSC server; handlers only validate and assign control values;
- ``midi``: the MIDI controller (in, learn, LED feedback, replug); validate and assign only;
- ``web``: the control surface and HTTP API (:mod:`live.surface`); validate and assign only;
- ``generator``: newest features + controls -> motion -> generator -> newest :class:`Frame`;
- main thread: OpenGL. Draws at display rate from the newest frame and features and never
  waits for the generator.

Hand-off is "latest wins" through :class:`live.types.Latest`. This module also owns the
fallbacks that keep a show on screen: a generator that raises or stalls is replaced by the
embedded one (the last frame stays up meanwhile), a bank that fails to load leaves the
current one playing, and a lost sound device is the source's job (silence, then reopen).
"""
from __future__ import annotations

import dataclasses
import errno
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from live.assemble import bank_fits, fit_banks, load_banks, make_generator, make_renderer, make_sinks
from live.assemble import resolve_bank_path  # noqa: F401 - re-exported (older imports)
from live.config import Config
from live.errors import RenderError, ShowError
from live.telemetry import RollingTimes, Telemetry  # noqa: F401 - RollingTimes re-exported
from live.types import SILENT_FRAME, FeatureFrame, Frame, GenControl, Latest

log = logging.getLogger("live.app")


# ----------------------------------------------------------------------------------------------
# analysis thread


class AnalysisWorker(threading.Thread):
    """Reads hops from the source, runs the analyzer, publishes the newest FeatureFrame.

    With a show clock (:class:`live.clock.show.ShowClock`) the beat of every published frame is
    the clock's (tracker, tap, manual BPM, Link, MIDI clock by precedence) and taps and manual
    BPM go to the clock; without one they go to the analyzer, here on the analysis thread,
    because aubio objects are not thread-safe.
    """

    def __init__(self, source, analyzer, features: Latest, telemetry: Telemetry, *,
                 control_store=None, stop: threading.Event, clock=None,
                 on_frame: Optional[Callable] = None):
        super().__init__(name="analysis", daemon=True)
        self.on_frame = on_frame      # after each publication (a leader sends the frame on)
        self.source = source
        self.analyzer = analyzer
        self.features = features
        self.telemetry = telemetry
        self.control_store = control_store
        self.clock = clock
        self.stop_event = stop
        self.finished = threading.Event()
        self.error: Optional[BaseException] = None
        self._tap_seen = 0
        self._bpm_seen = -1           # bpm_count last applied; -1 applies the start value once
        # wall-clock anchor of the audio clock, for converting tap times (wall) to audio time
        self.clock_anchor: tuple[float, float] = (time.monotonic(), 0.0)

    def audio_time_of(self, wall_s: float) -> float:
        wall0, audio0 = self.clock_anchor
        return audio0 + (wall_s - wall0)

    def host_of_audio(self, t_audio: float) -> float:
        """Audio time -> the host clock Link and MIDI clock are timed on (when the hop that
        ends at ``t_audio`` reached the analyzer; the clock subtracts the input latency)."""
        from live.clock.tempo import host_now
        wall0, audio0 = self.clock_anchor
        return host_now() - time.monotonic() + wall0 + (t_audio - audio0)

    def _forward_control(self) -> None:
        store = self.control_store
        if store is None:
            return
        state = store.state
        if state.tap_count != self._tap_seen:
            new = state.tap_count - self._tap_seen
            for wall in state.tap_times[-new:]:
                if self.clock is not None:
                    self.clock.tap(self.audio_time_of(wall))
                else:
                    self.analyzer.tap(t_s=self.audio_time_of(wall))
            self._tap_seen = state.tap_count
        # every /live/bpm message counts, so a second "0" after tapping still releases
        if state.bpm_count != self._bpm_seen:
            bpm = float(state.values["bpm"])
            if self.clock is not None:
                self.clock.set_bpm(min(max(bpm, 20.0), 400.0) if bpm > 0 else None)
            elif bpm > 0:
                # the OSC range (0..300) is wider at the bottom than the analyzer's 20..400
                self.analyzer.set_manual_bpm(min(max(bpm, 20.0), 400.0))
            else:  # 0 releases manual and tap tempo to the tracker
                self.analyzer.set_manual_bpm(None)
                self.analyzer.release_tap()
            self._bpm_seen = state.bpm_count

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                hop = self.source.read_hop(timeout_s=0.5)
                if hop is None:
                    self.finished.set()
                    return
                try:
                    self._forward_control()
                except Exception as exc:  # a bad control value must not stop the analysis
                    state = self.control_store.state   # skip it (once), do not retry every hop
                    self._tap_seen = state.tap_count
                    self._bpm_seen = state.bpm_count
                    self.telemetry.note(f"control value not applied to the analyzer: {exc}")
                t0 = time.perf_counter()
                frame = self.analyzer.process(hop)
                self.clock_anchor = (time.monotonic(), frame.t)
                if self.clock is not None:
                    from live.clock.show import with_beat
                    frame = with_beat(frame, self.clock.update(frame))
                self.telemetry.analysis_ms.add((time.perf_counter() - t0) * 1e3)
                self.features.publish(frame)
                if self.on_frame is not None:
                    try:
                        self.on_frame(frame)
                    except Exception as exc:  # noqa: BLE001 - the network must not stop the analysis
                        self.telemetry.note(f"lead: frame not sent: {exc}")
        except BaseException as exc:  # keep the show on screen; report
            self.error = exc
            log.exception("analysis thread stopped")
            self.finished.set()


# ----------------------------------------------------------------------------------------------
# generator thread


class GeneratorWorker(threading.Thread):
    """Runs motion -> generator as fast as the backend allows (capped), publishing Frames.

    The GL thread never waits for it. ``busy_since`` lets the supervisor detect a stall;
    a worker that raised or stalled is abandoned (its late result is discarded) and replaced.
    """

    def __init__(self, generator, banks: dict, bank_names: Sequence[str], features: Latest,
                 frames: Latest, telemetry: Telemetry, *, control_store, motion_config,
                 step: Callable, initial_motion_state, stop: threading.Event,
                 max_fps: float = 30.0, generation: int = 0):
        super().__init__(name=f"generator-{generation}", daemon=True)
        self.generator = generator
        self.banks = banks
        self.bank_names = list(bank_names)
        self.features = features
        self.frames = frames
        self.telemetry = telemetry
        self.control_store = control_store
        self.motion_config = motion_config
        self.step = step
        self.motion_state = initial_motion_state
        self.stop_event = stop
        self.min_interval_s = 1.0 / max_fps if max_fps > 0 else 0.0
        self.generation = generation
        self.abandoned = False
        self.error: Optional[BaseException] = None
        # (features, extra seconds) -> features whose beat is the one true when its frame is seen
        self.beat_for_eye: Optional[Callable[[FeatureFrame, float], FeatureFrame]] = None
        self.busy_since: Optional[float] = None
        self.active_bank: Optional[str] = None
        self.last_control: Optional[GenControl] = None
        self._index = 0

    def _ensure_bank(self, name: str) -> None:
        if name == self.active_bank or name not in self.banks:
            return
        try:
            self.generator.set_bank(self.banks[name])
            self.active_bank = name
        except Exception as exc:  # a bad bank leaves the current one playing
            self.telemetry.bank_errors += 1
            self.telemetry.note(f"bank '{name}' cannot be used: {exc}; keeping '{self.active_bank}'")
            self.banks.pop(name, None)

    def run(self) -> None:
        last = 0.0
        while not self.stop_event.is_set() and not self.abandoned:
            wait = self.min_interval_s - (time.monotonic() - last)
            if wait > 0:
                time.sleep(wait)
            last = time.monotonic()
            features = self.features.get() or SILENT_FRAME
            if self.beat_for_eye is not None:     # keyframes land on the beat when they are seen
                features = self.beat_for_eye(features, self.telemetry.gen_ms.percentile(50) / 1e3
                                             if self.telemetry.gen_ms.count else 0.0)
            state = self.control_store.state
            bank_size = len(self.banks[self.active_bank].latents) if self.active_bank in self.banks else 1
            try:
                self.motion_state, ctl = self.step(
                    self.motion_state, features, state, now_s=features.t,
                    bank_size=bank_size, bank_names=self.bank_names, config=self.motion_config)
                self._ensure_bank(ctl.bank)
                self.last_control = ctl
                self.busy_since = time.monotonic()
                t0 = time.perf_counter()
                frame = self.generator.render(ctl)
                ms = (time.perf_counter() - t0) * 1e3
                self.busy_since = None
            except Exception as exc:
                self.busy_since = None
                self.error = exc
                self.telemetry.gen_errors += 1
                log.exception("generator %s failed", getattr(self.generator, "name", "?"))
                return
            if self.abandoned:
                return
            self._index += 1
            frame = Frame(pixels=frame.pixels, control=frame.control, gen_ms=ms,
                          index=self.generation * 1_000_000_000 + self._index)
            self.telemetry.gen_ms.add(ms)
            self.telemetry.gen_frames += 1
            self.telemetry.gen_frame_times.append(time.monotonic())
            self.frames.publish(frame)


# ----------------------------------------------------------------------------------------------
# the show


@dataclass
class ShowResult:
    """What a finished show reports (also the figures of ``bench frame``)."""

    seconds: float
    frames_drawn: int
    frame_ms_p50: float
    frame_ms_p99: float
    frame_ms_max: float
    late_frames: int
    gen_frames: int
    gen_fps: float
    gen_ms_p50: float
    analysis_ms_p50: float
    analysis_ms_p99: float
    audio_overflows: int
    gen_errors: int
    fallbacks: int
    bank_errors: int
    recording_dropped: int
    outputs: list                 # each frame sink's stats: name, offered, sent, dropped, last_error
    osc: dict
    messages: list
    recording_error: Optional[str] = None   # why a recording stopped early (full disk...), None if it did not
    stopped_by: str = ""                    # the signal that ended the show ("SIGTERM"...), "" otherwise
    net: dict = field(default_factory=dict)   # lead: sent, errors; follow: mode, received, lost...

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Show:
    """A running show. ``Show(cfg, audio=...).run()`` blocks until quit/duration/end of file.

    Every part is built in :meth:`start` (device, banks, generator ``load()``, GL context,
    OSC), so a problem is reported before the first frame, as a :class:`ShowError`.
    """

    def __init__(self, cfg: Config, *, audio: str = "", duration_s: Optional[float] = None,
                 record: str = "", source=None, fps_cap: Optional[float] = None,
                 on_frame: Optional[Callable] = None, generator_factory: Optional[Callable] = None,
                 renderer_factory: Optional[Callable] = None, config_path: Optional[str] = None):
        self.cfg = cfg
        self.config_path = config_path     # the show file: presets and MIDI mappings are saved into it
        # name, **options -> Generator; tests inject failing backends here
        self.generator_factory = generator_factory
        self.renderer_factory = renderer_factory      # **options -> Renderer (tests)
        self.audio_spec = audio
        self.duration_s = duration_s
        self.record_path = record or cfg.render.record
        self.telemetry = Telemetry()
        self.features: Latest[FeatureFrame] = Latest(SILENT_FRAME)
        self.frames: Latest[Frame] = Latest(None)
        self.stop_event = threading.Event()
        self._source = source            # injected (tests, benches) or opened in start()
        self.fps_cap = fps_cap
        self.on_frame = on_frame          # called after each drawn frame (benches): (show, wall_s)
        self.renderer = None
        self.sinks: list = []
        self.recorder = None
        self.osc_server = None
        self.osc_out = None
        self.midi = None
        self.surface = None
        self.preview = None
        self.show_file = None
        self.generator = None
        self.gen_worker: Optional[GeneratorWorker] = None
        self.analysis: Optional[AnalysisWorker] = None
        self.clock = None                 # live.clock.show.ShowClock, built in start()
        self.leader = None                # live.net.Leader with --lead
        self.follow = None                # live.net.FollowWorker: --follow, or a leader's own screen
        self._follow_mode = ""
        self.banks: dict = {}
        self._generation = 0
        self._started = False
        self._t_start: Optional[float] = None
        self._sink_errors: dict = {}
        self.stopped_by = ""                # set by the command when a signal ended the show

    # -- start-up ---------------------------------------------------------------------------
    def start(self) -> None:
        from live.control import ControlError, ControlStore, OscOut, OscServer
        from live.features import Analyzer
        from live.motion import MotionState

        cfg = self.cfg
        try:
            self.store = ControlStore.from_config(cfg)
        except ControlError as exc:
            raise ShowError(str(exc)) from None

        # sound in (a follower listens to its leader; its own input, if given, takes over when
        # the leader is gone)
        net = cfg.net
        if net.follow and net.lead:
            raise ShowError("a node cannot lead and follow at once: give --lead or --follow")
        need_source = not net.follow or bool(self.audio_spec) or self._source is not None
        if self._source is None and need_source:
            from live.audio import AudioError, AudioFileError, open_source
            from live.audio.device import SoundDeviceSource
            from live.audio.devices import find_input_device
            try:
                self._source = open_source(self.audio_spec, config=cfg.audio, hop_size=cfg.features.hop_size)
                if isinstance(self._source, SoundDeviceSource):  # fail before the slow parts start
                    find_input_device(self._source.device)
            except AudioFileError as exc:
                raise ShowError(str(exc)) from None
            except AudioError as exc:
                raise ShowError(f"{exc}; pick an input with --audio DEVICE (see 'latent-live devices') "
                                "or rehearse with a file: --audio track.wav") from None
        self.analyzer = Analyzer(sample_rate_hz=self._source.sample_rate_hz, config=cfg.features) \
            if self._source is not None else None
        # the DJ's clock: tracker, tap, manual BPM, Link, MIDI clock by precedence
        from live.clock.show import ShowClock
        try:
            self.clock = ShowClock.from_config(
                cfg, host_of_audio=self._host_of_audio)
        except (RuntimeError, ValueError) as exc:
            raise ShowError(f"clock: {exc}") from None

        # banks and generator
        self.banks = load_banks(cfg.gen.banks, self.telemetry)
        self.generator = self._make_generator(cfg.gen.backend)
        self.motion_state0 = MotionState()

        # picture out: the renderer and the frame sinks its capture feeds
        from live.outputs.recorder import RecorderError
        try:
            self.renderer = make_renderer(cfg.render, factory=self.renderer_factory)
        except RenderError as exc:
            raise ShowError(str(exc)) from None
        audio_path = self.audio_spec if self.audio_spec and Path(self.audio_spec).is_file() else None
        try:
            self.sinks = make_sinks(cfg.render, size=self.renderer.size, record=self.record_path,
                                    audio_path=audio_path, outputs=cfg.outputs, audio_loop=cfg.audio.loop)
        except RecorderError as exc:
            raise ShowError(str(exc)) from None
        except RuntimeError as exc:               # NDI / virtual camera could not start
            for sink in self.sinks:
                sink.close()
            raise ShowError(str(exc)) from None
        for sink in self.sinks:
            self.renderer.add_sink(sink)
        self.recorder = next((s for s in self.sinks if s.name == "recorder"), None)

        # OSC
        o = cfg.osc
        if o.enabled and o.port:
            try:
                self.osc_server = OscServer(self.store, host=o.host, port=o.port, allow=o.allow,
                                            recv_buffer_bytes=o.recv_buffer_bytes)
            except ControlError as exc:
                raise ShowError(str(exc)) from None
        if o.targets:
            try:
                self.osc_out = OscOut(o.targets, bands_hz=o.bands_hz)
            except ControlError as exc:
                raise ShowError(str(exc)) from None

        # hands: the show file, a MIDI controller, the web control surface (with its preview)
        self._start_hands()

        # threads
        self._start_net()
        own = self.features if self.follow is None else Latest(SILENT_FRAME)
        if self._source is not None:
            # a follower's clock runs on its follow thread (one thread per clock), over whatever it shows
            self.analysis = AnalysisWorker(self._source, self.analyzer, own, self.telemetry,
                                           control_store=self.store, stop=self.stop_event,
                                           clock=None if net.follow else self.clock,
                                           on_frame=self._lead_frame if self.leader is not None else None)
            if self.follow is not None and net.follow:
                self.follow.fallback = _OwnInput(own, self.analysis)
        self._start_generator_worker(self.generator)
        if self._source is not None:
            from live.audio import AudioError
            try:
                self._source.start()
            except AudioError as exc:
                raise ShowError(f"{exc}; pick an input with --audio DEVICE (see 'latent-live devices') "
                                "or rehearse with a file: --audio track.wav") from None
            self.analysis.start()
        if self.follow is not None:
            self.follow.start()
        self._started = True

    def _start_hands(self) -> None:
        cfg = self.cfg
        if self.config_path:
            from live.control.showfile import ShowFile
            self.show_file = ShowFile(self.config_path)
        if cfg.midi.input:
            from live.control.midi import MidiController, MidiError, settings_from_config
            try:
                settings = settings_from_config(cfg.midi)
            except MidiError as exc:
                raise ShowError(str(exc)) from None
            self.midi = MidiController(self.store, settings, beat=self._midi_beat,
                                       on_change=self._save_midi_maps).start()
        w = cfg.web
        if w.enabled:
            from live.surface import Surface, SurfaceSources
            if w.preview_fps > 0:
                from live.outputs.preview import PreviewSink
                width, height = self.renderer.size
                self.preview = PreviewSink(width=width, height=height, fps=w.preview_fps,
                                           out_width=w.preview_width, quality=w.preview_quality)
                self.sinks.append(self.preview)
                self.renderer.add_sink(self.preview)
            sources = SurfaceSources(
                store=self.store, features=self.features.get, telemetry=self._web_telemetry,
                banks=lambda: [{"name": n, "count": len(b.latents), "path": str(b.path or "")}
                               for n, b in self.banks.items()],
                playing=self._playing, preview=self.preview, midi=self.midi,
                save_presets=self._save_presets if self.show_file is not None else None)
            def serve(port: int):
                return Surface(sources, host=w.host, port=port, token=w.token, meter_hz=w.meter_hz,
                               max_clients=w.max_clients, max_messages_hz=w.max_messages_hz).start()
            try:
                self.surface = serve(w.port)
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or not w.port:
                    raise ShowError(exc.strerror or str(exc)) from None
                try:   # another show (or program) holds the port: serve on a free one, say which
                    self.surface = serve(0)
                except OSError as exc2:
                    raise ShowError(exc2.strerror or str(exc2)) from None
                self.telemetry.note(f"web port {w.port} is busy; the control surface is on {self.surface.url}")
                log.warning("web port %d is busy; the control surface is on %s", w.port, self.surface.url)

    def _midi_beat(self):
        """The beat the controller's beat pad follows: the show clock's (with its downbeats),
        else the newest features' (MIDI thread)."""
        clock = self.clock
        beat = clock.latest.get() if clock is not None else None
        return beat if beat is not None else self.features.get()

    def _save_presets(self, presets: dict) -> str:
        """Write the presets into the show file (web thread); "" or why it could not."""
        from live.control.showfile import ShowFileError
        try:
            self.show_file.save(presets=presets)
            return ""
        except ShowFileError as exc:
            self.telemetry.note(str(exc))
            return str(exc)

    def _save_midi_maps(self) -> None:
        """Write the MIDI mappings into the show file after a learn (MIDI thread)."""
        if self.show_file is None or self.midi is None:
            return
        from live.control.showfile import ShowFileError
        try:
            self.show_file.save(midi_maps=self.midi.mappings)
        except ShowFileError as exc:
            self.telemetry.note(str(exc))

    def _playing(self) -> dict:
        w = self.gen_worker
        ctl = w.last_control if w is not None else None
        names = list(self.banks)
        bank = (w.active_bank or "") if w is not None else ""
        return {"bank": bank, "bank_index": names.index(bank) if bank in names else -1,
                "entry_a": ctl.entry_a if ctl else 0, "entry_b": ctl.entry_b if ctl else 0,
                "alpha": round(float(ctl.alpha), 3) if ctl else 0.0}

    def _web_telemetry(self) -> dict:
        t = self.telemetry
        fps, p50, p99 = self.renderer.frame_stats() if self.renderer is not None else (0.0, 0.0, 0.0)
        hud = self._hud_fields(self.features.get() or SILENT_FRAME)
        return {"fps": round(fps, 2), "frame_ms_p50": round(p50, 2), "frame_ms_p99": round(p99, 2),
                "gen_fps": round(t.gen_fps(), 2),
                "gen_ms": None if hud["gen_ms"] is None else round(hud["gen_ms"], 2),
                "latency_ms": None if hud["latency_ms"] is None else round(hud["latency_ms"], 1),
                "analysis_ms": round(t.analysis_ms.percentile(50), 3),
                "xruns": int(getattr(self._source, "overflows", 0) or 0), "late_frames": t.late_frames,
                "fallbacks": t.fallbacks, "frames_drawn": t.frames_drawn,
                "messages": [m for _, m in list(t.messages)[-5:]]}

    def _start_net(self) -> None:
        """--lead: a publisher, and this screen on the same delayed clock as the followers';
        --follow: the leader's stream as this node's features (module live.net)."""
        net = self.cfg.net
        if not (net.lead or net.follow):
            return
        from live.net import FollowWorker, Leader

        try:
            if net.lead:
                self.leader = Leader(net.lead)
            self.follow = FollowWorker(net.follow or None, features=self.features, delay_s=net.delay_ms / 1e3,
                                       lost_after_s=net.lost_after_s, stop=self.stop_event,
                                       control_store=self.store if net.follow else None,
                                       beat=self._follow_beat if net.follow else None)
        except (OSError, ValueError) as exc:
            raise ShowError(str(exc)) from None

    def _follow_beat(self, frame: FeatureFrame) -> FeatureFrame:
        """A follower's beat: the stream's, unless this node has its own clock (Link, MIDI clock:
        the DJ's grid, also while the leader is gone) or shows its own input."""
        c = self.cfg.clock
        if self.clock is None or not (c.link or c.link_lead or c.midi_clock or self.follow.using_fallback):
            return frame
        from live.clock.show import with_beat

        return with_beat(frame, self.clock.update(frame))

    def _host_of_audio(self, t: float) -> float:
        """Audio time -> Link's host clock: a follower's shown leader time, else the analysis's."""
        if self.follow is not None and self.cfg.net.follow and not self.follow.using_fallback:
            return self.follow.host_of(t)
        return self.analysis.host_of_audio(t) if self.analysis is not None else t

    def _lead_frame(self, frame: FeatureFrame) -> None:
        """On the analysis thread: send the hop, feed this screen, send the controls when they changed."""
        self.leader.features(frame)
        self.follow.feed(frame)
        st = self.store.state
        self.leader.controls(st.values, {k: v for k, v in st.counts.items() if k in _MIRRORED_TRIGGERS},
                             t=frame.t, version=st.version)

    def _clock(self):
        """What the effect clock follows: the network follower (also a leader's own screen), else
        the analysis thread."""
        if self.follow is not None and not self.follow.using_fallback:
            return self.follow
        return self.follow.fallback if self.follow is not None and self.follow.fallback else self.analysis

    def _make_generator(self, backend: str):
        """Build and load a generator (:mod:`live.assemble`) and give it the first bank that
        fits; a backend that fails, or that no bank fits, falls back to the embedded one."""
        try:
            gen = make_generator(self.cfg.gen, backend=backend, factory=self.generator_factory)
        except Exception as exc:
            if backend == "embedded":
                raise ShowError(f"the embedded generator failed to start: {exc}") from None
            self.telemetry.note(f"backend '{backend}' failed to start ({exc}); using the embedded generator")
            self.telemetry.fallbacks += 1
            return self._make_generator("embedded")
        if backend != "embedded" and not any(bank_fits(gen, b) for b in self.banks.values()):
            self.telemetry.note(f"no bank fits backend '{backend}' ({gen.bank_spec().describe()}); "
                                "using the embedded generator")
            self.telemetry.fallbacks += 1
            gen.close()
            return self._make_generator("embedded")
        self.banks = fit_banks(gen, self.banks, self.telemetry)
        if not self.banks:
            gen.close()
            raise ShowError("no latent bank could be loaded for the embedded generator; "
                            "rebuild one with: latent-live bank build --backend embedded --out latent_banks/default")
        gen.set_bank(next(iter(self.banks.values())))
        return gen

    def _start_generator_worker(self, generator) -> None:
        from live.motion import step

        self._generation += 1
        active = generator.bank.name if generator.bank is not None else next(iter(self.banks))
        # the worker knows which bank the generator holds, so it does not set it again
        names = list(self.banks)
        state = self.motion_state0
        if self.gen_worker is not None:
            state = self.gen_worker.motion_state
        if self.leader is not None:
            step = _walk_sender(step, self.leader)
        elif self.follow is not None and self.cfg.render.wall:
            step = _walk_follower(step, self.follow)       # every tile draws the leader's latent
        worker = GeneratorWorker(generator, self.banks, names, self.features, self.frames, self.telemetry,
                                 control_store=self.store, motion_config=self.cfg.motion, step=step,
                                 initial_motion_state=state, stop=self.stop_event,
                                 max_fps=self.cfg.gen.max_fps, generation=self._generation)
        worker.active_bank = active
        worker.beat_for_eye = self._beat_for_eye
        self.gen_worker = worker
        worker.start()

    def _beat_for_eye(self, feats: FeatureFrame, extra_s: float = 0.0, *,
                      now_audio_s: Optional[float] = None) -> FeatureFrame:
        """``feats`` with the clock's beat as it will be when a picture made now is seen: the
        sound-to-eye delay (clock.audio_latency_ms + render_latency_ms) plus ``extra_s`` (the
        generator's own time). Beat flashes, bar cuts and keyframe arrivals read this; onsets
        are not predictable and stay as they are."""
        if self.follow is not None and not self.follow.using_fallback:
            return feats       # lead/follow: every screen shows the stream's beat on the shared delayed clock
        clock = self.clock
        beat = clock.latest.get() if clock is not None else None
        if beat is None or beat.bpm <= 0.0 or not clock.compensate:
            return feats
        from live.clock.show import with_beat
        now = feats.t if now_audio_s is None else now_audio_s
        return with_beat(feats, clock.for_eye(beat, now_audio_s=now + extra_s))

    # -- supervision --------------------------------------------------------------------------
    def _supervise(self) -> None:
        if self.follow is not None and self.cfg.net.follow:
            mode = self.follow.mode()
            if mode != self._follow_mode:
                if self._follow_mode or mode != "waiting":
                    self.telemetry.note(f"follow {self.cfg.net.follow}: {self.follow.status()}")
                self._follow_mode = mode
        w = self.gen_worker
        if w is None:
            return
        busy = w.busy_since   # read once: the worker clears it concurrently
        stalled = busy is not None and time.monotonic() - busy > self.cfg.gen.timeout_s
        if w.error is None and not stalled:
            return
        what = f"raised {type(w.error).__name__}: {w.error}" if w.error is not None else \
            f"stalled for more than {self.cfg.gen.timeout_s:g} s"
        if getattr(w.generator, "name", "") == "embedded" and w.error is None:
            # the last resort is slow (an overloaded machine), not dead: keep its worker, say it once
            if getattr(w, "stall_noted", None) != busy:
                w.stall_noted = busy
                self.telemetry.note(f"embedded generator {what}; keeping the last frame")
            return
        w.abandoned = True
        self.telemetry.fallbacks += 1
        self.telemetry.note(f"generator '{getattr(w.generator, 'name', '?')}' {what}; "
                            "keeping the last frame and switching to the embedded generator")
        try:
            gen = self._make_generator("embedded")
        except ShowError as exc:
            self.telemetry.note(str(exc))
            self.gen_worker = None
            return
        self.generator = gen
        self._start_generator_worker(gen)

    def _watch_sinks(self) -> None:
        """A sink that stopped (the recording on a full disk) is said once in the HUD and the log;
        the show goes on."""
        for s in self.sinks:
            err = getattr(s, "error", None)
            if err and self._sink_errors.get(s.name) != err:
                self._sink_errors[s.name] = err
                self.telemetry.note(err)

    @property
    def elapsed_s(self) -> float:
        """Seconds since the show's loop started (0 before)."""
        return time.monotonic() - self._t_start if self._t_start is not None else 0.0

    def finish_sinks(self) -> None:
        """Finish every sink's file now, from any thread (the stop watchdog's last resort)."""
        for s in self.sinks:
            try:
                s.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("while finishing %s: %s", getattr(s, "name", "?"), exc)

    # -- the main (GL) loop -------------------------------------------------------------------
    def run(self) -> ShowResult:
        if not self._started:
            self.start()
        from live.control import renderer_controls
        from live.render.hud import HudInfo

        r = self.renderer
        t_start = self._t_start = time.monotonic()
        last_reload = t_start
        last_status = t_start
        frame_index = None
        # headless: paced at render.fps; a window is paced by vsync, with a loose cap at twice the
        # rate so a display without vsync (Xvfb, some drivers) cannot spin the CPU
        rate = self.fps_cap or self.cfg.render.fps
        period = 1.0 / rate if (r.headless or self.fps_cap) else 0.5 / rate
        next_tick = time.monotonic()
        try:
            while not self.stop_event.is_set():
                t0 = time.perf_counter()
                now = time.monotonic()
                for ev in r.poll_events():
                    if ev == "quit":
                        self.stop_event.set()
                    elif ev == "fullscreen":
                        r.toggle_fullscreen()
                    elif ev == "learn":
                        from live.control.midi import learn_key
                        self.telemetry.note(learn_key(self.midi, self.store))
                    else:
                        self.store.apply_key(ev)
                if r.should_close:
                    break
                # effect time: the audio clock, extrapolated between hops so motion is smooth;
                # the generator cross-fade runs on the same clock
                wall0, audio0 = self._clock().clock_anchor
                time_s = audio0 + min(now - wall0, 0.1)
                frame = self.frames.get()
                if frame is not None and frame.index != frame_index:
                    # a wall tile cross-fades on the walk's own time, as every other tile does
                    wall_walk = self.follow is not None and self.cfg.net.follow and self.cfg.render.wall
                    r.set_frame(frame, now_s=min(frame.control.t, time_s) if wall_walk else time_s)
                    frame_index = frame.index
                feats = self.features.get() or SILENT_FRAME
                state = self.store.state
                r.hud_visible = bool(state.values.get("hud", True))
                hud = HudInfo(**self._hud_fields(feats)) if r.hud_visible else None
                if getattr(r, "looks", None) is not None:
                    for msg in r.looks.follow(state):
                        self.telemetry.note(msg)
                r.draw(self._beat_for_eye(feats, now_audio_s=time_s), renderer_controls(state),
                       time_s=time_s, hud=hud)
                if self.osc_out is not None:
                    self.osc_out.send_features(feats)
                    if now - last_status > 1.0:
                        self.osc_out.send_status(self._status())
                        last_status = now
                if now - last_reload > 0.5:
                    for msg in r.check_reload() or ():
                        self.telemetry.note(msg)
                    last_reload = now
                self._supervise()
                self._watch_sinks()
                ms = (time.perf_counter() - t0) * 1e3
                self.telemetry.frame_ms.add(ms)
                if ms > 40.0:
                    self.telemetry.late_frames += 1
                self.telemetry.frames_drawn += 1
                if self.on_frame is not None:
                    self.on_frame(self, now)
                if self.duration_s is not None and now - t_start >= self.duration_s:
                    break
                if self.analysis is not None and self.analysis.finished.is_set():
                    if self.analysis.error is not None:
                        self.telemetry.note(f"analysis stopped: {self.analysis.error}")
                    break
                if period:
                    next_tick += period
                    if not self._wait_tick(next_tick, feats):
                        next_tick = time.monotonic()
        finally:
            self.stop()
        return self.result(time.monotonic() - t_start)

    def _wait_tick(self, deadline: float, drawn: FeatureFrame) -> bool:
        """Sleep until ``deadline`` (headless pacing), but wake early when an onset or a beat
        arrives that the last frame did not show: the flash should not wait for the next tick.
        Returns False when the loop is behind (no sleep) or woke early."""
        while True:
            delay = deadline - time.monotonic()
            if delay <= 0:
                return delay > -1e-3
            version = self.features.version
            if not self.features.wait_newer(version, delay):
                return True
            f = self.features.get()
            if f is not None and (f.onset_count != drawn.onset_count or f.beat_count != drawn.beat_count):
                return False

    def _hud_fields(self, feats: FeatureFrame) -> dict:
        w = self.gen_worker
        ctl = w.last_control if w is not None else None
        msg = ""
        if self.telemetry.messages:
            t, text = self.telemetry.messages[-1]
            if time.monotonic() - t < 8.0:
                msg = text
        t = self.telemetry
        latency_ms = None
        in_lat = getattr(self._source, "input_latency_s", None)
        if in_lat is not None:
            # sound card buffering + one hop + analysis + one drawn frame: the floor of sound-to-light
            hop_ms = 1e3 * self.cfg.features.hop_size / self._source.sample_rate_hz
            latency_ms = 1e3 * in_lat + hop_ms + t.analysis_ms.percentile(50) + t.frame_ms.percentile(50)
        return dict(
            bank=(w.active_bank or "") if w else "",
            entry=f"{ctl.entry_a} -> {ctl.entry_b} ({ctl.alpha:.2f})" if ctl else "",
            gen_fps=t.gen_fps(),
            gen_ms=t.gen_ms.percentile(50) if t.gen_ms.count else None,
            latency_ms=latency_ms,
            message=msg,
            lines=(f"hop {t.analysis_ms.percentile(50):.2f} ms  late {t.late_frames}  "
                   f"xrun {getattr(self._source, 'overflows', 0)}  fallback {t.fallbacks}",)
            + ((f"net {self._net_line()}",) if self.leader is not None or self.cfg.net.follow else ()),
        )

    def _net_line(self) -> str:
        if self.leader is not None:
            return f"lead {self.cfg.net.lead}: {self.leader.sent} sent, {len(self.leader.subscribers)} unicast"
        st = self.follow.stats
        return f"{self.follow.status()}  loss {st.loss_pct:.1f}%  late {st.late}"

    def _status(self) -> dict:
        t = self.telemetry
        return {"fps": self.renderer.frame_stats()[0], "frame_ms_p99": t.frame_ms.percentile(99),
                "gen_fps": t.gen_fps(), "overflows": getattr(self._source, "overflows", 0),
                "late_frames": t.late_frames, "fallbacks": t.fallbacks}

    def result(self, seconds: float) -> ShowResult:
        t = self.telemetry
        fm = t.frame_ms.values()
        return ShowResult(
            seconds=seconds, frames_drawn=t.frames_drawn,
            frame_ms_p50=t.frame_ms.percentile(50), frame_ms_p99=t.frame_ms.percentile(99),
            frame_ms_max=float(fm.max()) if fm.size else 0.0, late_frames=t.late_frames,
            gen_frames=t.gen_frames, gen_fps=t.gen_frames / seconds if seconds > 0 else 0.0,
            gen_ms_p50=t.gen_ms.percentile(50), analysis_ms_p50=t.analysis_ms.percentile(50),
            analysis_ms_p99=t.analysis_ms.percentile(99),
            audio_overflows=int(getattr(self._source, "overflows", 0) or 0),
            gen_errors=t.gen_errors, fallbacks=t.fallbacks, bank_errors=t.bank_errors,
            recording_dropped=int(getattr(self.recorder, "dropped", 0) or 0),
            outputs=[dataclasses.asdict(s.stats()) for s in self.sinks],
            osc=self.osc_server.stats.as_dict() if self.osc_server is not None else {},
            messages=[m for _, m in t.messages],
            recording_error=next((getattr(s, "error", None) for s in self.sinks
                                  if s.name == "recorder" and getattr(s, "error", None)), None),
            stopped_by=self.stopped_by, net=self._net_stats())

    def _net_stats(self) -> dict:
        if self.leader is not None:
            return {"role": "lead", "sent": self.leader.sent, "errors": self.leader.errors,
                    "subscribers": len(self.leader.subscribers)}
        if self.follow is not None:
            return {"role": "follow", "mode": self.follow.mode(), "status": self.follow.status(),
                    "controls": {k: self.store.state.values[k] for k in ("fx.zoom",)},
                    **self.follow.stats.as_dict()}
        return {}

    def stop(self) -> None:
        """Stop every thread and release devices; safe to call twice."""
        self.stop_event.set()
        for closer in (
            lambda: self._source and self._source.stop(),
            lambda: self.analysis and self.analysis.is_alive() and self.analysis.join(timeout=2.0),
            lambda: self.follow and self.follow.stop(),
            lambda: self.leader and self.leader.close(),
            lambda: self.gen_worker and self.gen_worker.is_alive()
            and self.gen_worker.join(timeout=self.cfg.gen.timeout_s + 1.0),
            lambda: self.renderer and self.renderer.flush_capture(),
            *[(lambda s=s: s.close()) for s in self.sinks],
            lambda: self.osc_server and self.osc_server.close(),
            lambda: self.clock and self.clock.close(),
            lambda: self.surface and self.surface.close(),
            lambda: self.midi and self.midi.close(),
            lambda: self.generator and self.generator.close(),
            lambda: self.renderer and self.renderer.close(),
            lambda: self._source and self._source.close(),
        ):
            try:
                closer()
            except Exception as exc:  # noqa: BLE001 - shutting down: report, go on
                log.warning("while stopping: %s", exc)



# triggers a leader mirrors to its followers (tap and bpm only feed the leader's own analyzer)
_MIRRORED_TRIGGERS = ("bank.next", "bank.prev", "entry.next", "entry.prev", "bank.select")


class _OwnInput:
    """A follower's own sound input, for when its leader is gone: features and clock of its
    analysis thread (live.net.FollowWorker's ``fallback``)."""

    def __init__(self, features: Latest, analysis: AnalysisWorker):
        self.features = features
        self._analysis = analysis

    @property
    def clock_anchor(self) -> tuple:
        return self._analysis.clock_anchor


def _walk_sender(step: Callable, leader) -> Callable:
    """The motion step of a leader: the walk goes to the followers too (wall tiles draw it)."""
    def lead_step(state, features, control, **kw):
        state, ctl = step(state, features, control, **kw)
        try:
            leader.walk(ctl)
        except Exception as exc:  # noqa: BLE001 - the network must not stop the generator
            log.warning("lead: walk not sent: %s", exc)
        return state, ctl
    return lead_step


def _walk_follower(step: Callable, follow) -> Callable:
    """The motion step of a wall tile: the leader's walk while it is heard (its own walk keeps
    stepping underneath, so a takeover by its own input continues from where it is)."""
    def follow_step(state, features, control, **kw):
        state, own = step(state, features, control, **kw)
        ctl = follow.walk.get()
        if ctl is None or follow.using_fallback or follow.mode() != "following":
            return state, own
        return state, ctl
    return follow_step
