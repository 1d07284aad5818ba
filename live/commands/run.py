"""``latent-live run``: the live show."""
from __future__ import annotations

import json
import math
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run the live show: sound in, pictures out, OSC steering",
        description=(
            "Run the show. Sound comes from an input device (default: the system's default input) "
            "or, for rehearsal, a file that plays through the speakers. With no display it renders "
            "headless (use --record to keep the picture). Keys in the window: f fullscreen, h HUD, "
            "space tap tempo, 1-9 bank, m MIDI learn for the control moved last, esc quit."
        ),
    )
    p.add_argument("--audio", default="", metavar="DEVICE|FILE",
                   help="input device index or name substring (see 'latent-live devices'), or an audio file to rehearse with")
    p.add_argument("--backend", choices=("embedded", "vae", "lcm"), help="generator backend (default: embedded)")
    p.add_argument("--model", help="local model folder or weight file for vae/lcm")
    p.add_argument("--bank", action="append", metavar="DIR", help="latent bank folder; repeat for several (keys 1-9 switch)")
    p.add_argument("--config", metavar="SHOW.toml", help="show settings file (TOML)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting, e.g. --set features.bpm_min=100")
    p.add_argument("--fullscreen", action="store_true", help="fullscreen on the chosen monitor")
    p.add_argument("--monitor", type=int, help="monitor number for fullscreen (0 = primary)")
    p.add_argument("--size", metavar="WxH", help="output size, default 1280x720")
    p.add_argument("--headless", action="store_true", help="render without a window (automatic when there is no display)")
    p.add_argument("--record", metavar="OUT.mp4", help="record the output to an MP4 (H.264), with the audio when the input is a file")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this many seconds")
    p.add_argument("--osc-port", type=int, help="OSC listen port (default 9000; 0 disables OSC in)")
    p.add_argument("--osc-host", help="OSC listen address (default 127.0.0.1; 0.0.0.0 for a desk on the network)")
    p.add_argument("--osc-allow", action="append", metavar="ADDR", help="only these sender addresses may steer (repeatable)")
    p.add_argument("--osc-out", action="append", metavar="HOST:PORT", help="send /live/beat, /live/bpm, /live/bands to this target (repeatable)")
    p.add_argument("--ndi", metavar="NAME", help="publish the picture as the NDI source NAME (optional extra latent-live[ndi]; size/rate: outputs.ndi_width, ndi_height, ndi_fps)")
    p.add_argument("--vcam", metavar="DEVICE", help="send the picture to a v4l2loopback virtual camera (/dev/videoN or auto)")
    p.add_argument("--link", action="store_true", help="follow an Ableton Link session (optional extra latent-live[link])")
    p.add_argument("--link-lead", action="store_true", help="lead the Link session with our tempo (tracker / tap / manual BPM)")
    p.add_argument("--midi-clock", metavar="PORT", help="follow MIDI clock from this input (name or part of it)")
    p.add_argument("--web-port", type=int, metavar="PORT", help="control surface / HTTP API port (default 8765; 0 = any free port)")
    p.add_argument("--web-host", metavar="ADDR", help="control surface address (default 127.0.0.1; 0.0.0.0 for a phone on the network, with a token)")
    p.add_argument("--no-web", action="store_true", help="no control surface / HTTP API")
    p.add_argument("--midi", metavar="DEVICE", help="MIDI controller: index or part of its name (see 'latent-live midi list')")
    p.add_argument("--midi-api", choices=("auto", "alsa", "jack"), help="MIDI system for --midi (default auto: ALSA on Linux)")
    p.add_argument("--lead", nargs="?", const="239.255.76.76:9100", default=None, metavar="ADDR",
                   help="publish the analysis, the walk and the controls for followers: a multicast GROUP:PORT "
                        "(default 239.255.76.76:9100) or 0.0.0.0:PORT for unicast followers")
    p.add_argument("--follow", metavar="ADDR",
                   help="render from a leader's stream instead of this node's sound: its multicast GROUP:PORT or "
                        "LEADERHOST:PORT; with --audio, this node's input takes over while the leader is gone")
    p.add_argument("--wall", metavar="COLSxROWS", help="draw one tile of a video wall (with --follow: the leader's walk)")
    p.add_argument("--tile", type=int, metavar="N", help="which tile of the wall, row by row from the top left (0..)")
    p.add_argument("--overlap", type=int, metavar="PX", help="pixels shared with each neighbouring tile (edge blend)")
    p.add_argument("--loop", action="store_true", help="loop the audio file")
    p.add_argument("--no-playback", action="store_true", help="do not play the audio file through the speakers")
    p.add_argument("--list-params", action="store_true", help="print every OSC address and control, then exit")
    p.add_argument("--json", metavar="OUT", help="write the show's figures as JSON when it ends")
    p.set_defaults(func=run)


def overrides_from_args(args) -> list[str]:
    """Turn the convenience flags into ``--set`` overrides (flags win over the file)."""
    sets = []
    if getattr(args, "backend", None):
        sets.append(f"gen.backend={args.backend}")
    if getattr(args, "model", None):
        sets.append(f"gen.model={args.model}")
    if getattr(args, "bank", None):
        sets.append("gen.banks=" + json.dumps(list(args.bank)))
    if getattr(args, "fullscreen", False):
        sets.append("render.fullscreen=true")
    if getattr(args, "monitor", None) is not None:
        sets.append(f"render.monitor={args.monitor}")
    if getattr(args, "size", None):
        from live.errors import UserError
        try:
            w, h = (int(x) for x in args.size.lower().split("x"))
        except ValueError:
            raise UserError(f"--size expects WIDTHxHEIGHT such as 1280x720, got {args.size!r}") from None
        sets += [f"render.width={w}", f"render.height={h}"]
    if getattr(args, "look", None):
        sets.append(f"render.look={args.look}")
    if getattr(args, "headless", False):
        sets.append("render.headless=yes")
    if getattr(args, "osc_port", None) is not None:
        sets.append(f"osc.port={args.osc_port}")
    if getattr(args, "osc_host", None):
        sets.append(f"osc.host={args.osc_host}")
    if getattr(args, "osc_allow", None):
        sets.append("osc.allow=" + json.dumps(list(args.osc_allow)))
    if getattr(args, "osc_out", None):
        sets.append("osc.targets=" + json.dumps(list(args.osc_out)))
    if getattr(args, "ndi", None):
        sets.append(f"outputs.ndi={args.ndi}")
    if getattr(args, "vcam", None):
        sets.append(f"outputs.v4l2={args.vcam}")
    if getattr(args, "link", False):
        sets.append("clock.link=true")
    if getattr(args, "link_lead", False):
        sets.append("clock.link_lead=true")
    if getattr(args, "midi_clock", None):
        sets.append(f"clock.midi_clock={args.midi_clock}")
    if getattr(args, "web_port", None) is not None:
        sets.append(f"web.port={args.web_port}")
    if getattr(args, "web_host", None):
        sets.append(f"web.host={args.web_host}")
    if getattr(args, "no_web", False):
        sets.append("web.enabled=false")
    if getattr(args, "midi", None):
        sets.append(f"midi.input={args.midi}")
    if getattr(args, "midi_api", None):
        sets.append(f"midi.api={args.midi_api}")
    if getattr(args, "loop", False):
        sets.append("audio.loop=true")
    if getattr(args, "lead", None):
        sets.append(f"net.lead={args.lead}")
    if getattr(args, "follow", None):
        sets.append(f"net.follow={args.follow}")
    if getattr(args, "wall", None):
        sets.append(f"render.wall={args.wall}")
    if getattr(args, "tile", None) is not None:
        sets.append(f"render.tile={int(args.tile)}")
    if getattr(args, "overlap", None) is not None:
        sets.append(f"render.overlap={int(args.overlap)}")
    if getattr(args, "no_playback", False):
        sets.append("audio.playback=false")
    return sets


def run(args) -> int:
    from live.config import ConfigError, check_record_path, load_config
    from live.errors import UserError

    if args.list_params:
        from live.control import listing
        print(listing())
        return 0
    try:
        cfg = load_config(args.config, [*overrides_from_args(args), *args.set])
        if args.record:
            check_record_path(args.record, "--record")
        if args.duration is not None and not (args.duration > 0 and math.isfinite(args.duration)):
            raise ConfigError(f"--duration {args.duration!r} must be a positive number of seconds")
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    from live.app import Show, ShowError

    show = Show(cfg, audio=args.audio, duration_s=args.duration, record=args.record or "",
                config_path=args.config)
    try:
        show.start()
    except ShowError as exc:
        show.stop()
        raise UserError(str(exc)) from None
    print(f"latent-live: running ({cfg.gen.backend} generator, {'headless' if show.renderer.headless else 'window'} "
          f"{show.renderer.size[0]}x{show.renderer.size[1]}"
          + (f", OSC on {cfg.osc.host}:{show.osc_server.port}" if show.osc_server else "")
          + (f", recording to {show.record_path}" if show.record_path else "") + "); Ctrl+C to stop",
          file=sys.stderr)
    if show.surface is not None:
        s = show.surface
        print(f"latent-live: control surface on {s.url}", file=sys.stderr)
        if s.remote:
            print(f"latent-live: from a phone or tablet open {s.token_url} (the token is needed)", file=sys.stderr)

    from live.commands.stopping import StopSignals

    # Ctrl+C, SIGTERM and SIGHUP all end the loop the same way: the recording is finished and the
    # summary written; a second signal stops at once; a stuck loop is ended by the watchdog
    with StopSignals(show.stop_event.set, emergency=show.finish_sinks) as stopper:
        if args.duration:
            stopper.arm_deadline(args.duration + stopper.grace_s)
        try:
            result = show.run()
        except KeyboardInterrupt:
            show.stop()
            result = None
        show.stopped_by = stopper.name or ("SIGINT" if result is None else "")
        if result is None:
            result = show.result(show.elapsed_s)
        result.stopped_by = show.stopped_by
        code = stopper.exit_code or (130 if show.stopped_by == "SIGINT" else None)
    print(f"latent-live: {result.frames_drawn} frames in {result.seconds:.1f} s, frame time p50 "
          f"{result.frame_ms_p50:.1f} ms p99 {result.frame_ms_p99:.1f} ms, generator {result.gen_fps:.1f} fps, "
          f"{result.late_frames} late frames, {result.audio_overflows} audio overflows, {result.fallbacks} fallbacks"
          + (f"; stopped by {result.stopped_by}" if result.stopped_by else ""),
          file=sys.stderr)
    for m in result.messages:
        print(f"  note: {m}", file=sys.stderr)
    if show.record_path:
        if result.recording_error:
            print(f"latent-live: {result.recording_error}", file=sys.stderr)
        else:
            rec = next((o for o in result.outputs if o.get("name") == "recorder"), None)
            share = (f" ({rec['sent']} frames written, {rec['dropped']} of {rec['offered']} offered dropped = "
                     f"{100.0 * rec['dropped'] / rec['offered']:.0f} %)") if rec and rec.get("offered") else ""
            print(f"latent-live: recorded {show.record_path}{share}", file=sys.stderr)
    if args.json:
        from live.commands.files import write_json
        write_json(args.json, result.as_dict())
    if code is not None:
        return code
    return 1 if result.recording_error else 0
