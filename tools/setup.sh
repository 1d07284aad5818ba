#!/usr/bin/env bash
# Install everything latent-live needs on a fresh Debian/Ubuntu machine (no GPU needed):
# system packages (PortAudio, PulseAudio for the virtual sound device, Mesa EGL/GL, Xvfb,
# FluidSynth + General MIDI soundfonts for the beat tracker's training and evaluation sets, a test photo,
# jackd2 for virtual MIDI ports and chromium + chromium-driver for the control page in tests),
# a virtual environment in .venv with torch==2.13.0 (CPU build) and the project itself.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins alsa-utils
  libegl1 libgl1 libgles2 libegl-mesa0 libgl1-mesa-dri xvfb xauth
  fluidsynth fluid-soundfont-gm mate-backgrounds
  jackd2 chromium chromium-driver
  timgm6mb-soundfont csound-soundfont opl3-soundfont musescore-general-soundfont-small
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install -q --disable-pip-version-check)
[ -d /opt/wheels ] && PIP+=(--find-links /opt/wheels)
# torch first and pinned, so nothing later pulls an unpinned CUDA build.
.venv/bin/python -c "import torch" 2>/dev/null || "${PIP[@]}" "torch==2.13.0"
# link (GPL), ndi (NDI SDK licence), vcam and cluster (Dask) are optional extras; the tests exercise them
"${PIP[@]}" -e ".[diffusion,dev,link,ndi,vcam,cluster]"
# the demo track the README's first command plays (synthesized here, never downloaded)
[ -f demo/demo_beat.wav ] || .venv/bin/python tools/make_demo_track.py --out demo/demo_beat.wav >/dev/null
echo "setup: done. Try: .venv/bin/latent-live --help"
