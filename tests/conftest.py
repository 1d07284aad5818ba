"""Shared test set-up: no network, no model downloads, caches in a temp folder."""
import os
import tempfile

import pytest

# Nothing may download weights in tests; diffusers/transformers must stay offline.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DIFFUSERS_OFFLINE", "1")
# ONNX exports and other caches go to a per-run temp folder, never the user's home.
os.environ.setdefault("LATENT_LIVE_CACHE", tempfile.mkdtemp(prefix="latent-live-cache-"))

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_TAESD = os.path.join(os.path.dirname(REPO_ROOT), "shared", "models", "taesd")


@pytest.fixture
def taesd_dir():
    """The real pretrained TAESD weights beside the checkout, or a skip saying why."""
    if not os.path.isfile(os.path.join(SHARED_TAESD, "taesd_decoder.safetensors")):
        pytest.skip(f"real TAESD weights not found at {SHARED_TAESD} (../shared/models/taesd)")
    return SHARED_TAESD
