"""The offline music-video render on the audio clock (:mod:`live.offline.render`) and its
locked edit, the timeline (:mod:`live.offline.timeline`)."""
