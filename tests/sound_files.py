"""Sound clips written by hand, byte for byte, in the three containers phones record (no ffmpeg needed).

Each is a structurally valid file of its container: Ogg pages with correct CRCs and an Opus
identification header, a WebM as Chrome's MediaRecorder writes it (unknown-size Segment and
Clusters, no Duration), and an M4A with a sound track (plain, or fragmented as MediaRecorder
writes it). The audio packets are filler: the server reads containers, it does not decode.
"""

from __future__ import annotations

import struct

# --- Ogg Opus ------------------------------------------------------------------------------


def _crc_table():
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


CRC = _crc_table()


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ CRC[((crc >> 24) & 0xFF) ^ b]
    return crc


def ogg_page(payload: bytes, granule: int, seq: int, flags: int = 0, serial: int = 0x5EED) -> bytes:
    lacing = bytes([255] * (len(payload) // 255) + [len(payload) % 255])
    head = b"OggS" + struct.pack("<BBqIII", 0, flags, granule, serial, seq, 0) + bytes([len(lacing)]) + lacing
    page = head + payload
    crc = _ogg_crc(page)
    return page[:22] + struct.pack("<I", crc) + page[26:]


def ogg_opus(seconds: float, pre_skip: int = 312) -> bytes:
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, pre_skip, 48000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 4) + b"test" + struct.pack("<I", 0)
    pages = [ogg_page(head, 0, 0, flags=2), ogg_page(tags, 0, 1)]
    total = pre_skip + int(seconds * 48000)
    per_page = 48000  # one second of 20 ms packets per page
    seq, granule = 2, 0
    while granule < total:
        granule = min(total, granule + per_page)
        packets = b"".join(b"\xfc" + b"\x00" * 30 for _ in range(50))
        pages.append(ogg_page(packets[:254], granule, seq, flags=4 if granule >= total else 0))
        seq += 1
    return b"".join(pages)


# --- WebM ------------------------------------------------------------------------------------


def _size(n: int) -> bytes:
    return bytes([0x80 | n]) if n < 0x7F else b"\x40" + n.to_bytes(1, "big") if n < 0x3FFF and n < 256 else (0x10000000 | n).to_bytes(4, "big")


def el(eid: int, body: bytes) -> bytes:
    return eid.to_bytes((eid.bit_length() + 7) // 8, "big") + (0x10000000 | len(body)).to_bytes(4, "big") + body


UNKNOWN = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def uint(eid: int, v: int) -> bytes:
    return el(eid, v.to_bytes(max(1, (v.bit_length() + 7) // 8), "big"))


def webm(seconds: float, track_type: int = 2, with_duration: bool = False, doctype: bytes = b"webm") -> bytes:
    header = el(0x1A45DFA3, uint(0x4286, 1) + uint(0x42F7, 1) + uint(0x42F2, 4) + uint(0x42F3, 8) + el(0x4282, doctype) + uint(0x4287, 4) + uint(0x4285, 2))
    info = uint(0x2AD7B1, 1_000_000) + el(0x4D80, b"Chrome") + el(0x5741, b"Chrome")
    if with_duration:
        info += el(0x4489, struct.pack(">d", seconds * 1000))
    tracks = el(0x1654AE6B, el(0xAE, uint(0xD7, 1) + uint(0x73C5, 1) + uint(0x83, track_type) + el(0x86, b"A_OPUS")))
    clusters = b""
    ms, step = 0, 20
    end = int(seconds * 1000)
    while ms < end:
        start = ms
        blocks = b""
        while ms < end and ms - start < 5000:
            blocks += el(0xA3, b"\x81" + struct.pack(">h", ms - start) + b"\x80" + b"\xfc\x00\x00")
            ms += step
        # The last block starts one frame before the end.
        clusters += b"\x1f\x43\xb6\x75" + UNKNOWN + uint(0xE7, start) + blocks
    segment = b"\x18\x53\x80\x67" + UNKNOWN + el(0x1549A966, info) + tracks + clusters
    return header + segment


# --- MP4 / M4A ------------------------------------------------------------------------------


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def full(kind: bytes, version: int, flags: int, body: bytes) -> bytes:
    return box(kind, bytes([version]) + flags.to_bytes(3, "big") + body)


def _trak(handler: bytes, track_id: int, scale: int, duration: int) -> bytes:
    tkhd = full(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, track_id, 0, duration) + b"\0" * 60)
    mdhd = full(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, scale, duration, 0x55C4, 0))
    hdlr = full(b"hdlr", 0, 0, struct.pack(">I", 0) + handler + b"\0" * 12 + b"Handler\0")
    return box(b"trak", tkhd + box(b"mdia", mdhd + hdlr + box(b"minf", b"")))


def m4a(seconds: float, handlers=(b"soun",), fragmented: bool = False, brand: bytes = b"M4A ") -> bytes:
    ftyp = box(b"ftyp", brand + struct.pack(">I", 0) + brand + (b"isom" if brand != b"qt  " else b""))
    scale = 48000
    traks = b"".join(_trak(h, i + 1, scale, 0 if fragmented else int(seconds * scale)) for i, h in enumerate(handlers))
    mvhd = full(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, 1000, 0 if fragmented else int(seconds * 1000)) + b"\0" * 80)
    if not fragmented:
        return ftyp + box(b"moov", mvhd + traks) + box(b"mdat", b"\0" * 64)
    mvex = box(b"mvex", full(b"trex", 0, 0, struct.pack(">IIIII", 1, 1, 1024, 0, 0)))
    out = ftyp + box(b"moov", mvhd + traks + mvex)
    frames = int(seconds * scale / 1024)
    seq = 1
    while frames > 0:
        n = min(frames, 47)  # about one second per fragment
        tfhd = full(b"tfhd", 0, 0x020000, struct.pack(">I", 1))
        trun = full(b"trun", 0, 0x000100, struct.pack(">I", n) + struct.pack(">I", 1024) * n)
        out += box(b"moof", full(b"mfhd", 0, 0, struct.pack(">I", seq)) + box(b"traf", tfhd + trun)) + box(b"mdat", b"\0" * n)
        frames -= n
        seq += 1
    return out
