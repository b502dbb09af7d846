"""Sound clips ("listen" evidence): what a phone recorded, checked by its bytes, kept as sent.

A clip travels the photo protocol (docs/sync.md "Photos"): a record names its id, the phone
PUTs the bytes to /api/photos/<id> with their SHA-256, and the row in `photos` says who
recorded it and which record it belongs to. What differs is the content: the server sniffs
the container from the bytes (never trusting the Content-Type or a file name), checks size
and duration, and keeps the bytes as they are (a clip carries no location, and re-encoding
would need a codec library the server does not have).

Accepted containers, as phones' MediaRecorder writes them:
- WebM/Matroska (EBML header 1A 45 DF A3, DocType webm or matroska): Chrome, Android;
- Ogg with an Opus stream (OggS page whose first packet is OpusHead): Firefox;
- MP4/M4A (an `ftyp` box, then a `moov` whose tracks are sound only): iPhone Safari, new Chrome.

Duration, from the container's own headers:
- MP4: `mvhd` duration / timescale; a fragmented file (duration 0 there, as MediaRecorder
  writes it) adds up its fragments' sample durations (`tfhd` default, `trun` per sample),
  or reads `mehd`;
- Ogg: the last page's granule position minus the OpusHead pre-skip, at 48 kHz (exact);
- WebM: the Segment Info `Duration` when written; MediaRecorder leaves it out (it writes
  while recording), so the best effort is the latest block timestamp: each Cluster's
  Timecode plus its SimpleBlocks' relative timecodes, scaled by TimecodeScale. That is the
  start of the last audio frame, short of the true length by one frame (about 20 ms).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .problems import Invalid, TooLarge, Unsupported
from .storage import get_store

CONTENT_TYPES = ("audio/webm", "audio/ogg", "audio/mp4", "audio/x-m4a", "audio/aac")
MAX_SECONDS = 15
# MediaRecorder stops a little after it is told to: a clip of "15 s" may be 15.1 s long.
SLACK_SECONDS = 1.0
MP4_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"mp42", b"mp41", b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"iso8", b"iso9", b"dash", b"msnv", b"3gp4", b"3gp5"}


@dataclass(frozen=True)
class Clip:
    container: str  # webm, ogg, mp4
    mime: str  # the content type it is served with
    seconds: float


def is_sound(content_type: str) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in CONTENT_TYPES


def sound_key(photo_id: str) -> str:
    """<first two hex digits>/<id>.sound in the photo store, beside the photos' files."""
    return f"{photo_id[:2]}/{photo_id}.sound"


def check(data: bytes, max_bytes: int) -> Clip:
    """The clip these bytes are, or a 4xx problem: too large, not a sound container, too long, unreadable."""
    if len(data) > max_bytes:
        raise TooLarge(f"The sound clip is larger than {max_bytes // 1024} KiB.", "sound_too_large")
    clip = sniff(data)
    if clip is None:
        raise Unsupported("Not a sound clip: send WebM or Ogg (Opus) or MP4 (AAC) audio as the phone recorded it.", "not_a_sound")
    if clip.seconds <= 0:
        raise Invalid("The sound clip's length could not be read (damaged or empty recording).", "sound_unreadable")
    if clip.seconds > MAX_SECONDS + SLACK_SECONDS:
        raise Invalid(f"The sound clip is {clip.seconds:.1f} s long: at most {MAX_SECONDS} s.", "sound_too_long")
    return clip


def sniff(data: bytes) -> Clip | None:
    """The container and duration of a sound clip, or None if these bytes are not one."""
    try:
        if data[:4] == b"\x1a\x45\xdf\xa3":
            return _webm(data)
        if data[:4] == b"OggS":
            return _ogg(data)
        if data[4:8] == b"ftyp":
            return _mp4(data)
    except (IndexError, struct.error, ValueError, TypeError, StopIteration):
        return Clip("broken", "", 0.0) if data[:4] in (b"\x1a\x45\xdf\xa3", b"OggS") or data[4:8] == b"ftyp" else None
    return None


def store(photo_id: str, data: bytes, clip: Clip) -> None:
    """Keep the clip as recorded in the photo store, all or nothing (server/storage: temporary, hash checked, then visible)."""
    get_store("photos").put(sound_key(photo_id), data, clip.mime)


# --- Ogg Opus -------------------------------------------------------------------------


def _ogg(data: bytes) -> Clip | None:
    # The first page carries the identification header: "OpusHead", version, channels, pre-skip.
    segments = data[26]
    body = 27 + segments
    if data[body:body + 8] != b"OpusHead":
        return None
    pre_skip = struct.unpack_from("<H", data, body + 10)[0]
    last = data.rfind(b"OggS")
    granule = struct.unpack_from("<q", data, last + 6)[0]
    if granule <= 0:
        return Clip("ogg", "audio/ogg", 0.0)
    return Clip("ogg", "audio/ogg", max(0, granule - pre_skip) / 48000)


# --- MP4 / M4A ------------------------------------------------------------------------


def _boxes(data: bytes, start: int, end: int):
    """(type, payload start, box end) of each box between start and end."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError("box runs past its parent")
        yield kind, pos + header, pos + size
        pos += size


def _child(data: bytes, start: int, end: int, kind: bytes):
    for k, s, e in _boxes(data, start, end):
        if k == kind:
            return s, e
    return None


def _mp4(data: bytes) -> Clip | None:
    ftyp = _child(data, 0, len(data), b"ftyp")
    brands = {data[ftyp[0]:ftyp[0] + 4]} | {data[i:i + 4] for i in range(ftyp[0] + 8, ftyp[1], 4)}
    if not brands & MP4_AUDIO_BRANDS:
        return None
    moov = _child(data, 0, len(data), b"moov")
    if moov is None:
        return None
    handlers, audio_scale = [], {}
    for kind, s, e in _boxes(data, *moov):
        if kind != b"trak":
            continue
        track_id = struct.unpack_from(">I", data, _child(data, s, e, b"tkhd")[0] + (20 if data[_child(data, s, e, b"tkhd")[0]] == 1 else 12))[0]
        mdia = _child(data, s, e, b"mdia")
        hdlr = _child(data, *mdia, b"hdlr")
        handler = data[hdlr[0] + 8:hdlr[0] + 12]
        handlers.append(handler)
        if handler == b"soun":
            mdhd = _child(data, *mdia, b"mdhd")[0]
            audio_scale[track_id] = struct.unpack_from(">I", data, mdhd + (20 if data[mdhd] == 1 else 12))[0]
    # Sound only: a video (or anything else) with a sound track is not a clip.
    if not handlers or any(h != b"soun" for h in handlers):
        return None
    mvhd = _child(data, *moov, b"mvhd")[0]
    if data[mvhd] == 1:
        scale, duration = struct.unpack_from(">IQ", data, mvhd + 20)
    else:
        scale, duration = struct.unpack_from(">II", data, mvhd + 12)
    if duration and scale and duration != 0xFFFFFFFF:
        return Clip("mp4", "audio/mp4", duration / scale)
    # Fragmented (MediaRecorder): the fragments' sample durations, per audio track.
    mvex = _child(data, *moov, b"mvex")
    if mvex and (mehd := _child(data, *mvex, b"mehd")):
        value = struct.unpack_from(">Q" if data[mehd[0]] == 1 else ">I", data, mehd[0] + 4)[0]
        if value and scale:
            return Clip("mp4", "audio/mp4", value / scale)
    defaults = {}
    if mvex:
        for kind, s, _e in _boxes(data, *mvex):
            if kind == b"trex":
                tid, _desc, dur = struct.unpack_from(">III", data, s + 4)
                defaults[tid] = dur
    total: dict[int, int] = {}
    for kind, s, e in _boxes(data, 0, len(data)):
        if kind != b"moof":
            continue
        for k, ts, te in _boxes(data, s, e):
            if k != b"traf":
                continue
            tfhd = _child(data, ts, te, b"tfhd")[0]
            flags = int.from_bytes(data[tfhd + 1:tfhd + 4], "big")
            tid = struct.unpack_from(">I", data, tfhd + 4)[0]
            pos = tfhd + 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
            default = struct.unpack_from(">I", data, pos)[0] if flags & 0x08 else defaults.get(tid, 0)
            for k2, rs, _re in _boxes(data, ts, te):
                if k2 != b"trun":
                    continue
                rflags = int.from_bytes(data[rs + 1:rs + 4], "big")
                count = struct.unpack_from(">I", data, rs + 4)[0]
                pos = rs + 8 + (4 if rflags & 0x01 else 0) + (4 if rflags & 0x04 else 0)
                per = sum(4 for bit in (0x100, 0x200, 0x400, 0x800) if rflags & bit)
                if rflags & 0x100:
                    total[tid] = total.get(tid, 0) + sum(struct.unpack_from(">I", data, pos + i * per)[0] for i in range(count))
                else:
                    total[tid] = total.get(tid, 0) + default * count
    seconds = max((n / audio_scale[tid] for tid, n in total.items() if audio_scale.get(tid)), default=0.0)
    return Clip("mp4", "audio/mp4", seconds)


# --- WebM / Matroska ------------------------------------------------------------------

EBML, SEGMENT, INFO, TIMECODE_SCALE, DURATION, CLUSTER, TIMECODE, SIMPLE_BLOCK, BLOCK_GROUP, BLOCK, DOCTYPE, TRACKS = (
    0x1A45DFA3, 0x18538067, 0x1549A966, 0x2AD7B1, 0x4489, 0x1F43B675, 0xE7, 0xA3, 0xA0, 0xA1, 0x4282, 0x1654AE6B,
)
TRACK_ENTRY, TRACK_TYPE = 0xAE, 0x83


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int, bool]:
    """(value, length, all ones) of an EBML variable-length integer at pos."""
    first = data[pos]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ValueError("bad EBML length")
    value = first if keep_marker else first & (0xFF >> length)
    for b in data[pos + 1:pos + length]:
        value = (value << 8) | b
    if len(data) < pos + length:
        raise ValueError("truncated")
    unknown = not keep_marker and value == (1 << (7 * length)) - 1
    return value, length, unknown


def _elements(data: bytes, start: int, end: int):
    """(id, payload start, payload end) of each element; an unknown size runs to `end`."""
    pos = start
    while pos < end:
        eid, n, _ = _vint(data, pos, True)
        size, m, unknown = _vint(data, pos + n, False)
        body = pos + n + m
        stop = end if unknown else body + size
        if stop > end:
            stop = end  # a recording cut short: read what is there
        yield eid, body, stop, unknown
        if unknown:
            return  # children of an unknown-size element are read by the caller
        pos = stop


def _uint(data: bytes, s: int, e: int) -> int:
    return int.from_bytes(data[s:e], "big")


def _webm(data: bytes) -> Clip | None:
    head = next(_elements(data, 0, len(data)))
    doctype = None
    for eid, s, e, _ in _elements(data, head[1], head[2]):
        if eid == DOCTYPE:
            doctype = data[s:e].rstrip(b"\0")
    if doctype not in (b"webm", b"matroska"):
        return None
    segment = None
    for eid, s, e, _ in _elements(data, head[2], len(data)):
        if eid == SEGMENT:
            segment = (s, e)
            break
    if segment is None:
        return None
    scale, duration, latest, types = 1_000_000, None, 0, []

    def walk(start: int, end: int, cluster_time: int | None) -> None:
        nonlocal scale, duration, latest
        pos = start
        while pos < end:
            try:
                eid, n, _ = _vint(data, pos, True)
                size, m, unknown = _vint(data, pos + n, False)
            except (IndexError, ValueError):
                return  # the recording was cut here
            body = pos + n + m
            stop = min(end, body + size) if not unknown else end
            if eid == INFO:
                for cid, cs, ce, _ in _elements(data, body, stop):
                    if cid == TIMECODE_SCALE:
                        scale = _uint(data, cs, ce)
                    elif cid == DURATION:
                        duration = struct.unpack(">f" if ce - cs == 4 else ">d", data[cs:ce])[0]
            elif eid == TRACKS:
                for tid, ts, te, _ in _elements(data, body, stop):
                    if tid == TRACK_ENTRY:
                        for cid, cs, ce, _ in _elements(data, ts, te):
                            if cid == TRACK_TYPE:
                                types.append(_uint(data, cs, ce))
            elif eid == CLUSTER:
                walk(body, stop, 0)
                if unknown:
                    return
            elif eid == TIMECODE and cluster_time is not None:
                cluster_time = _uint(data, body, stop)
            elif eid in (SIMPLE_BLOCK, BLOCK) and cluster_time is not None and stop - body >= 4:
                _track, t = _vint(data, body, False)[:2]
                relative = struct.unpack_from(">h", data, body + t)[0]
                latest = max(latest, cluster_time + relative)
            elif eid == BLOCK_GROUP and cluster_time is not None:
                walk(body, stop, cluster_time)
            if unknown and eid != CLUSTER:
                return
            pos = stop

    walk(*segment, None)
    # Sound only: track type 2 is audio (1 video, 17 subtitles).
    if not types or any(x != 2 for x in types):
        return None
    seconds = duration * scale / 1e9 if duration else latest * scale / 1e9
    return Clip("webm", "audio/webm", seconds)
