"""Offline bank building (``latent-live bank build``): entry sources by backend name, the
builder (resumable, selection, contact sheet). The runtime generators in :mod:`live.gen` never
import this room; it imports them."""
