#!/usr/bin/env python3
"""coffer_reader.py - a reader of coffer repositories written from docs/FORMAT.md alone.

It uses only the standard library, libsodium through ctypes (the library coffer itself
links; python3-nacl is not needed) and the zstd command. tests/integration/format_doc.sh
runs it on repositories written by bin/backupd, so a statement of FORMAT.md that stops
matching what the code writes fails the suite.

usage: coffer_reader.py REPO_DIR KEY_FILE SOURCE ID OUT_JSON [EXTRACT_DIR]
       coffer_reader.py --log REPO_DIR KEY_FILE SOURCE FILE OUT_FILE
  KEY_FILE is the key file (keyfile mode), the passphrase file (passphrase mode) or the
  secret key file (public mode), as repo.json's key mode says; in a version 2 repository
  (mode "slots") a key file or passphrase file of any of its slots.
Writes OUT_JSON: the manifest, each object's header facts and the volume's entries (for a
layout 3 volume backup: its index's fields, its entries and the segments read).
--log writes the archived WAL file FILE of SOURCE (FORMAT.md "logs/") to OUT_FILE.
Exits 1 with a message naming the rule that failed.
"""
import base64
import ctypes
import ctypes.util
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile

so = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
if so.sodium_init() < 0:
    sys.exit("libsodium failed to initialise")

MSG_MAX = 1 << 20
ABYTES = 17               # crypto_secretstream_xchacha20poly1305_ABYTES
TAG_MESSAGE, TAG_PUSH, TAG_FINAL = 0, 1, 3


def fail(msg):
    print("coffer_reader: " + msg, file=sys.stderr)
    sys.exit(1)


def key_bytes(raw, n, what):
    """FORMAT.md: exactly n raw bytes; otherwise 2n hex digits (either case) followed by any
    number of CR/LF."""
    if len(raw) == n:
        return raw
    text = raw.rstrip(b"\r\n")
    if len(text) != 2 * n:
        fail(f"{what}: neither {n} bytes nor {2 * n} hex digits")
    try:
        return bytes.fromhex(text.decode("ascii"))
    except ValueError:
        fail(f"{what}: not hex")


def secretbox_open(box, key):
    nonce, c = box[:24], box[24:]
    m = ctypes.create_string_buffer(max(len(c) - 16, 1))
    if so.crypto_secretbox_open_easy(m, c, ctypes.c_ulonglong(len(c)), nonce, key) != 0:
        return None
    return m.raw[:len(c) - 16]


def passphrase_bytes(raw):
    # FORMAT.md: one trailing LF, then one trailing CR, is dropped; nothing else
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw


def argon2id(passphrase, kdf):
    if kdf["algorithm"] != "argon2id13":
        fail("unknown kdf")
    salt = bytes.fromhex(kdf["salt"])
    out = ctypes.create_string_buffer(32)
    if so.crypto_pwhash(out, ctypes.c_ulonglong(32), passphrase,
                        ctypes.c_ulonglong(len(passphrase)), salt,
                        ctypes.c_ulonglong(kdf["opslimit"]), ctypes.c_size_t(kdf["memlimit"]),
                        ctypes.c_int(2)) != 0:    # crypto_pwhash_ALG_ARGON2ID13
        fail("argon2id failed")
    return out.raw


def slot_master(repo, raw):
    """version 2: the first slot whose kind fits the file and whose wrapped master opens"""
    for slot in repo["key"]["slots"]:
        if slot["kind"] == "keyfile":
            text = raw.rstrip(b"\r\n")
            if len(raw) != 32 and (len(text) != 64 or
                                   any(c not in b"0123456789abcdefABCDEF" for c in text)):
                continue    # not a key file: this slot is not for it
            secret = key_bytes(raw, 32, "key file")
        elif slot["kind"] == "passphrase":
            secret = argon2id(passphrase_bytes(raw), slot["kdf"])
        else:
            continue
        msg = b"coffer-slot-kek\0" + repo["id"].encode() + b"\0" + slot["id"].encode()
        kek = hashlib.blake2b(msg, digest_size=32, key=secret).digest()
        master = secretbox_open(bytes.fromhex(slot["wrapped"]), kek)
        if master is not None:
            return master
    fail("wrong key (no slot opens)")


def master_key(repo, keyfile):
    k = repo["key"]
    raw = open(keyfile, "rb").read()
    if k["mode"] == "slots":
        master = slot_master(repo, raw)
    elif k["mode"] == "keyfile":
        master = key_bytes(raw, 32, "key file")
    elif k["mode"] == "passphrase":
        master = argon2id(passphrase_bytes(raw), k["kdf"])
    else:
        return None
    if secretbox_open(bytes.fromhex(k["check"]), master) != b"coffer-key-check":
        fail("wrong key (the check value does not open)")
    return master


def secret_key(repo, keyfile):
    """public mode: the X25519 crypto_box secret key; a wrong one is told from damage by
    comparing crypto_scalarmult_base(sk) with repo.json's public_key."""
    sk = key_bytes(open(keyfile, "rb").read(), 32, "secret key file")
    pk = bytes.fromhex(repo["key"]["public_key"])
    derived = ctypes.create_string_buffer(32)
    so.crypto_scalarmult_base(derived, sk)
    if derived.raw != pk:
        fail("wrong secret key (crypto_scalarmult_base(sk) != public_key)")
    return sk, pk


class Keys:
    def __init__(self, repo, keyfile):
        self.mode = repo["key"]["mode"]
        self.master = master_key(repo, keyfile)
        if self.mode == "public":
            self.sk, self.pk = secret_key(repo, keyfile)

    def unwrap(self, kmode, w):
        dk = ctypes.create_string_buffer(32)
        if kmode == 1:
            if len(w) != 72:
                fail("wrapped key of mode 1 is not 72 bytes")
            m = secretbox_open(w, self.master)
            if m is None:
                fail("the data key does not open: damage")
            return m
        if kmode == 2:
            if len(w) != 80:
                fail("wrapped key of mode 2 is not 80 bytes")
            if so.crypto_box_seal_open(dk, w, ctypes.c_ulonglong(len(w)), self.pk, self.sk) != 0:
                fail("the sealed data key does not open: damage (the secret key was checked)")
            return dk.raw
        fail(f"unknown key mode byte {kmode}")


def open_object(data, keys, kind, index, bid):
    """parse the header, unwrap the data key; yield (plaintext, tag) for each message"""
    if data[:8] != b"COFFER\x00\x01":
        fail("bad magic")
    if data[8] != kind:
        fail(f"kind {data[8]}, expected {kind}")
    kmode, W = data[9], int.from_bytes(data[10:12], "little")
    n = int.from_bytes(data[12:16], "little")
    L = data[16]
    if n != index:
        fail(f"object says index {n}, expected {index}")
    if bid is not None and data[17:17 + L].decode("ascii") != bid:
        fail("object belongs to another backup")
    wrapped = data[17 + L:17 + L + W]
    H = data[:41 + L + W]             # bytes 0 .. 41+L+W, end excluded
    ss_header = data[17 + L + W:41 + L + W]
    dk = keys.unwrap(kmode, wrapped)
    state = ctypes.create_string_buffer(so.crypto_secretstream_xchacha20poly1305_statebytes())
    if so.crypto_secretstream_xchacha20poly1305_init_pull(state, ss_header, dk) != 0:
        fail("bad secretstream header")
    pos, msgs, last_tag = len(H), [], None
    buf = ctypes.create_string_buffer(MSG_MAX)
    while pos < len(data):
        if last_tag in (TAG_PUSH, TAG_FINAL):
            fail("bytes after a PUSH/FINAL message")
        C = int.from_bytes(data[pos:pos + 4], "little")
        if not ABYTES <= C <= MSG_MAX + ABYTES:
            fail(f"impossible message length {C}")
        c = data[pos + 4:pos + 4 + C]
        if len(c) != C:
            fail("object truncated")
        mlen, tag = ctypes.c_ulonglong(), ctypes.c_ubyte()
        if so.crypto_secretstream_xchacha20poly1305_pull(
                state, buf, ctypes.byref(mlen), ctypes.byref(tag), c, ctypes.c_ulonglong(C),
                H, ctypes.c_ulonglong(len(H))) != 0:
            fail(f"message at byte {pos} fails authentication")
        msgs.append((buf.raw[:mlen.value], tag.value))
        last_tag = tag.value
        pos += 4 + C
    if last_tag not in (TAG_PUSH, TAG_FINAL):
        fail("object ends without a PUSH/FINAL message")
    return {"H": len(H), "L": L, "W": W, "wrapped": wrapped.hex(), "kmode": kmode,
            "id": data[17:17 + L].decode("ascii"),
            "messages": [(len(p), t) for p, t in msgs]}, b"".join(p for p, _ in msgs), last_tag


def records(stream):
    """FORMAT.md's records: (P D* E)* Z and nothing after"""
    parts, pos = [], 0
    while True:
        if pos + 5 > len(stream):
            fail("stream ends inside a record header")
        t, ln = stream[pos], int.from_bytes(stream[pos + 1:pos + 5], "little")
        payload = stream[pos + 5:pos + 5 + ln]
        pos += 5 + ln
        if t == 0x50:
            if not 1 <= ln <= 255:
                fail("bad part name length")
            parts.append({"name": payload.decode(), "data": bytearray(), "bytes": None})
        elif t == 0x44:
            if ln > 262144 or not parts or parts[-1]["bytes"] is not None:
                fail("misplaced or oversized D record")
            parts[-1]["data"] += payload
        elif t == 0x45:
            n = int.from_bytes(payload, "little")
            if ln != 8 or n != len(parts[-1]["data"]):
                fail("E record count differs")
            parts[-1]["bytes"] = n
        elif t == 0x5A:
            if ln != 4 or int.from_bytes(payload, "little") != len(parts):
                fail("Z record count differs")
            if pos != len(stream):
                fail("bytes after Z")
            return parts
        else:
            fail(f"unknown record type {t:#x}")


def volume_entries(archive, extract_dir):
    tf = tarfile.open(fileobj=io.BytesIO(archive), mode="r:", format=tarfile.PAX_FORMAT)
    out = []
    for m in tf:
        # the name as stored (tarfile drops a directory's trailing '/'): pax "path", or the
        # ustar header's prefix and name fields (the ustar header is the block before the data)
        hdr = archive[m.offset_data - 512:m.offset_data]
        ustar = hdr[:100].rstrip(b"\0")
        if hdr[257:263] == b"ustar\0" and hdr[345:500].rstrip(b"\0"):
            ustar = hdr[345:500].rstrip(b"\0") + b"/" + ustar
        raw_name = m.pax_headers.get("path", ustar.decode("utf-8", "surrogateescape"))
        e = {"name": m.name, "raw_name": raw_name, "type": m.type.decode(),
             "size": m.size, "xattr_libarchive": {}, "xattr_schily": {}}
        for k, v in m.pax_headers.items():
            if k.startswith("LIBARCHIVE.xattr."):
                e["xattr_libarchive"][k[17:]] = base64.b64decode(v + "=" * (-len(v) % 4)).hex()   # no padding
            elif k.startswith("SCHILY.xattr."):
                raw = v.encode("utf-8", "surrogateescape")
                e["xattr_schily"][k[13:]] = raw.hex()
        if m.isfile():
            data = tf.extractfile(m).read()
            e["sha256"] = hashlib.sha256(data).hexdigest()
            if extract_dir:
                p = os.path.join(extract_dir, m.name)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                open(p, "wb").write(data)
        out.append(e)
    # FORMAT.md: only zero bytes may follow the archive's end
    if any(archive[tf.offset:]):
        fail("non-zero bytes after the end of the pax archive")
    return out


def zstd_one_frame(data, what):
    """FORMAT.md layout 3: exactly one zstd frame (the zstd command would take several)"""
    if data[:4] != b"\x28\xb5\x2f\xfd":
        fail(f"{what} is not a zstd frame")
    return subprocess.run(["zstd", "-dcq"], input=data, capture_output=True, check=True).stdout


def read_layout3(repo_dir, keys, source, bid, man, extract_dir):
    """FORMAT.md "Volume backups, layout 3": the index (kind 4), then the segments it names
    (this backup's or others' listed in refs), each alone; each entry's pax bytes at its place"""
    base = os.path.join(repo_dir, "backups", source)
    data = open(os.path.join(base, bid, "index"), "rb").read()
    if len(data) != man["index"]["size"] or \
            hashlib.blake2b(data, digest_size=32).hexdigest() != man["index"]["blake2b"]:
        fail("the index's size or BLAKE2b differs from the manifest")
    h, pt, tag = open_object(data, keys, 4, 0, bid)
    if tag != TAG_FINAL:
        fail("the index does not end FINAL")
    index = json.loads(zstd_one_frame(pt, "the index"))
    known = {(bid, o["n"]): o for o in man["objects"]}
    known.update({(r["id"], r["n"]): r for r in man["refs"]})
    segs, entries = {}, []
    for ent in index["entries"]:
        sid, n, off, ln = ent["at"]
        if (sid, n) not in known:
            fail(f"the index names segment {sid}/{n}, which the manifest does not list")
        if (sid, n) not in segs:
            raw = open(os.path.join(base, sid, "data", "%08d" % n), "rb").read()
            o = known[(sid, n)]
            if len(raw) != o["size"] or hashlib.blake2b(raw, digest_size=32).hexdigest() != o["blake2b"]:
                fail(f"segment {sid}/{n}: size or BLAKE2b differs from the manifest")
            sh, spt, stag = open_object(raw, keys, 1, n, sid)
            if [t for _, t in sh["messages"]] != [TAG_MESSAGE] * (len(sh["messages"]) - 1) + [TAG_FINAL]:
                fail(f"segment {sid}/{n}: tags are not MESSAGE* FINAL")
            segs[(sid, n)] = zstd_one_frame(spt, f"segment {sid}/{n}")
        piece = segs[(sid, n)][off:off + ln]
        tf = tarfile.open(fileobj=io.BytesIO(piece), mode="r:", format=tarfile.PAX_FORMAT)
        m = tf.next()
        name = ent.get("path") or os.fsdecode(bytes.fromhex(ent["path_hex"]))
        if m is None or m.name.rstrip("/") != name.rstrip("/").removeprefix("./") and not (name == "." and m.name in (".", "./")):
            fail(f"the entry at {sid}/{n}+{off} is {m.name if m else None!r}, the index says {name!r}")
        e = {"name": name, "type": ent["type"], "segment": [sid, n]}
        if ent["type"] == "file":
            content = tf.extractfile(m).read()
            if hashlib.blake2b(content, digest_size=32).hexdigest() != ent["blake2b"]:
                fail(f"{name}: contents differ from the index's BLAKE2b")
            e["sha256"] = hashlib.sha256(content).hexdigest()
            if extract_dir:
                p = os.path.join(extract_dir, name)
                os.makedirs(os.path.dirname(p), exist_ok=True)
                open(p, "wb").write(content)
        if ent["type"] == "hardlink" and extract_dir:   # its target is listed before it
            link = ent.get("link") or os.fsdecode(bytes.fromhex(ent["link_hex"]))
            p = os.path.join(extract_dir, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "wb").write(open(os.path.join(extract_dir, link), "rb").read())
        entries.append(e)
    return {"manifest": man, "layout": 3, "index": {k: v for k, v in index.items() if k != "entries"},
            "entries": entries, "segments_read": sorted("%s/%d" % k for k in segs)}


def read_log(repo_dir, keyfile, source, name, out):
    """FORMAT.md "logs/": kind 3, index 0, id "<source>/<file>#<digest>[@<pushed>[;fields]]",
    one zstd frame, messages of 1 MiB but the last (FINAL), the keyed BLAKE2b-256 digest of
    the file; a binlog file (<base>.<number>[.partial-<length>]) under binlog/"""
    repo = json.load(open(os.path.join(repo_dir, "repo.json")))
    keys = Keys(repo, keyfile)
    binlog = re.fullmatch(r"[A-Za-z0-9_-]+\.[0-9]{6,10}(\.partial-[1-9][0-9]*)?", name)
    data = open(os.path.join(repo_dir, "logs", source, "binlog" if binlog else name[:8], name),
                "rb").read()
    h, pt, tag = open_object(data, keys, 3, 0, None)
    prefix = f"{source}/{name}#"
    rest = h["id"][len(prefix):]
    if not h["id"].startswith(prefix) or not re.fullmatch(r"[0-9a-f]{64}(@[0-9]+(;[0-9a-z.,=;-]+)?)?", rest):
        fail(f"the object's id {h['id']} does not name {prefix}")
    sizes = [n for n, _ in h["messages"]]
    tags = [t for _, t in h["messages"]]
    if tags != [TAG_MESSAGE] * (len(tags) - 1) + [TAG_FINAL]:
        fail("log object tags are not MESSAGE* FINAL")
    if any(n != MSG_MAX for n in sizes[:-1]) or not 1 <= sizes[-1] <= MSG_MAX:
        fail("log object messages are not 1 MiB but the last")
    content = subprocess.run(["zstd", "-dcq"], input=pt, capture_output=True, check=True).stdout
    k = keys.pk if keys.mode == "public" else keys.master
    dkey = hashlib.blake2b(b"coffer-log-digest-v1", digest_size=32, key=k).digest()
    if hashlib.blake2b(content, digest_size=32, key=dkey).hexdigest() != rest[:64]:
        fail("the file's keyed digest differs from the id's")
    open(out, "wb").write(content)


def main():
    if sys.argv[1] == "--log":
        read_log(*sys.argv[2:7])
        return
    repo_dir, keyfile, source, bid, out_json = sys.argv[1:6]
    extract_dir = sys.argv[6] if len(sys.argv) > 6 else None
    repo = json.load(open(os.path.join(repo_dir, "repo.json")))
    if repo["format"] != "coffer-repository" or repo["version"] not in (1, 2):
        fail("not a version 1 or 2 repository")
    keys = Keys(repo, keyfile)
    base = os.path.join(repo_dir, "backups", source, bid)
    mh, mtext, mtag = open_object(open(base + "/manifest", "rb").read(), keys, 2, 0, bid)
    if mtag != TAG_FINAL:
        fail("manifest does not end FINAL")
    man = json.loads(mtext)
    if man.get("format") == 3:
        res = read_layout3(repo_dir, keys, source, bid, man, extract_dir)
        res["manifest_header"] = mh
        json.dump(res, open(out_json, "w"), indent=1)
        return
    objs, stream = [], b""
    for i, o in enumerate(man["objects"]):
        if o["n"] != i:
            fail("manifest objects out of order")
        data = open(f"{base}/data/{i:08d}", "rb").read()
        if len(data) != o["size"]:
            fail(f"data/{i} size differs from the manifest")
        if hashlib.blake2b(data, digest_size=32).hexdigest() != o["blake2b"]:
            fail(f"data/{i} BLAKE2b differs from the manifest")
        h, pt, tag = open_object(data, keys, 1, i, bid)
        last = i + 1 == len(man["objects"])
        if tag != (TAG_FINAL if last else TAG_PUSH):
            fail(f"data/{i} ends with tag {tag}")
        h["size"] = len(data)
        objs.append(h)
        stream += pt
    z = subprocess.run(["zstd", "-dcq"], input=stream, capture_output=True, check=True).stdout
    parts = records(z)
    res = {"manifest": man, "manifest_header": mh, "objects": objs,
           "parts": [{"name": p["name"], "bytes": p["bytes"]} for p in parts],
           "stream_bytes": len(stream)}
    if man["kind"] == "volume":
        res["entries"] = volume_entries(bytes(parts[0]["data"]), extract_dir)
    json.dump(res, open(out_json, "w"), indent=1)


main()
