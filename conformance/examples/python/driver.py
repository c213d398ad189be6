#!/usr/bin/env python3
"""A small spaces/1 conformance driver in Python (see conformance/DRIVER.md).

It implements two vector ops from SPEC.md alone, to show the path to a new implementation:

- ``code.decode``: invite codes, bech32m with the prefix ``spc`` (SPEC §7.1);
- ``credential.verify``: strict decoding of a credential (SPEC §2, §3.3) and its stateless
  verification (SPEC §3.6), Ed25519 under the rules of SPEC §1.3.

Every other op is answered ``{"unsupported": true}``. Needs Python 3.9+ and the
``cryptography`` package; nothing else.

Run it through the harness:

    spaces-conformance vectors --driver "python3 conformance/examples/python/driver.py"
"""

import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

PROTOCOL = "spaces-driver/1"
OPS = ["hello", "code.decode", "credential.verify"]


class OpError(Exception):
    """An op failed; ``kind`` is the stable error name, the message is for people."""

    def __init__(self, kind, message=""):
        super().__init__(message or kind)
        self.kind = kind


class CredentialError(Exception):
    """Stateless verification failed (SPEC §3.6); ``name`` is the SPEC's error name."""

    def __init__(self, name, detail=""):
        super().__init__("%s: %s" % (name, detail) if detail else name)
        self.name = name


def tagged(domain, body):
    """SPEC §2.5: u8(len(domain)) || domain || body."""
    d = domain.encode("ascii")
    return bytes([len(d)]) + d + body


# ----- invite codes (SPEC §7.1) -----

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32M_CONST = 0x2BC830A3
CODE_LENGTH_MAX = 100
PAYLOAD_LEN = 54


def polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def hrp_expand(hrp):
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def convert_bits(data, frombits, tobits, pad):
    acc, bits, out = 0, 0, []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad and bits:
        out.append((acc << (tobits - bits)) & maxv)
    return out


def encode_code(hrp, payload):
    data = convert_bits(payload, 8, 5, True)
    values = hrp_expand(hrp) + data
    mod = polymod(values + [0] * 6) ^ BECH32M_CONST
    checksum = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in data + checksum)


ROLES = {1: "admin", 2: "editor", 3: "reader"}


def code_decode(args):
    """The decoding steps of SPEC §7.1.3, in order."""
    text = args.get("text")
    if not isinstance(text, str):
        raise OpError("bad_args", "input.text must be a string")
    text = text.strip()
    if len(text.encode("utf-8")) > CODE_LENGTH_MAX:
        raise OpError("tooLong")
    if text.lower() != text and text.upper() != text:
        raise OpError("format", "mixed case")
    lower = text.lower()
    sep = lower.rfind("1")
    hrp, data_part = lower[:sep], lower[sep + 1 :]
    if sep < 1 or len(hrp) > 83 or not data_part:
        raise OpError("format", "no separator, or an empty part")
    if any(ord(c) < 33 or ord(c) > 126 for c in hrp) or any(c not in CHARSET for c in data_part):
        raise OpError("format", "a character outside the alphabet")
    data = [CHARSET.index(c) for c in data_part]
    if len(data) < 6 or polymod(hrp_expand(hrp) + data) != BECH32M_CONST:
        raise OpError("checksum")
    if hrp != "spc":
        raise OpError("wrongPrefix")
    payload = bytes(convert_bits(data[:-6], 5, 8, False))
    if len(payload) != PAYLOAD_LEN:
        raise OpError("length", "found %d" % len(payload))
    if payload[0] != 1:
        raise OpError("unsupportedVersion", "found %d" % payload[0])
    flags = payload[1]
    kind, method, role = flags & 3, (flags >> 2) & 3, (flags >> 4) & 7
    role_ok = (kind == 0 and role in ROLES) or (kind == 1 and role == 0)
    if kind > 1 or method > 2 or not role_ok or flags & 0x80:
        raise OpError("badFlags")
    if encode_code("spc", payload) != lower:
        raise OpError("length", "found 54 (non-zero padding)")
    return {
        "text": lower,
        "kind": ["space", "device"][kind],
        "auth": ["none", "pin", "key"][method],
        "role": ROLES.get(role),
        "id": payload[2:18].hex(),
        "host": payload[18:50].hex(),
        "expiresAt": int.from_bytes(payload[50:54], "big"),
        "payload": payload.hex(),
        "topic": hashlib.sha256(tagged("spaces/1 invitation-topic", payload)).hexdigest(),
        "prologue": tagged("spaces/1 invitation-prologue", payload).hex(),
    }


# ----- strict decoding (SPEC §2) -----

CREDENTIAL_SIZE_MAX = 16384
CHAIN_LINKS_MAX = 5  # the credential plus 4 links (SPEC §3.3)
PARENTS_MAX = 64
FRONTIER_MAX = 64


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def take(self, n):
        if self.at + n > len(self.data):
            raise OpError("decode", "truncated")
        out = self.data[self.at : self.at + n]
        self.at += n
        return out

    def u8(self):
        return self.take(1)[0]

    def varint(self, bits):
        """Unsigned LEB128, minimal, fitting `bits` bits."""
        value, shift = 0, 0
        for i in range((bits + 6) // 7):
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                if byte == 0 and i > 0:
                    raise OpError("decode", "non-minimal varint")
                if value >> bits:
                    raise OpError("decode", "varint overflows its type")
                return value
        raise OpError("decode", "varint too long")

    def variant(self, count):
        index = self.varint(32)
        if index >= count:
            raise OpError("decode", "unknown variant")
        return index

    def option(self, read):
        tag = self.u8()
        if tag > 1:
            raise OpError("decode", "bad option tag")
        return read() if tag else None

    def seq(self, read, element_min):
        count = self.varint(64)
        if count * element_min > len(self.data) - self.at:
            raise OpError("decode", "truncated sequence")
        return [read() for _ in range(count)]


def read_assertion(r):
    key = lambda: r.take(32)  # noqa: E731
    index = r.variant(7)
    if index == 0:
        return {"type": "SpaceGenesis", "space": key()}
    if index == 1:
        space, role = key(), r.variant(5)
        invitation = r.option(key)
        frontier = r.seq(lambda: (key(), r.varint(64)), 33)
        return {"type": "SpaceMember", "space": space, "role": role, "invitation": invitation, "frontier": frontier}
    if index == 2:
        fields = [key() for _ in range(4)]
        r.variant(2)
        return {"type": "AdmittedFeed", "space": fields[0]}
    if index == 3:
        identity, device, noise = key(), key(), key()
        return {"type": "AuthorizedDevice", "identity": identity, "device": device, "noise": noise}
    if index == 4:
        space = key()
        r.take(16)
        r.variant(3)
        r.variant(5)
        r.varint(64)
        r.varint(32)
        r.option(key)
        key()
        r.seq(lambda: (key(), key(), r.take(r.varint(64))), 65)
        return {"type": "DelegateInvitation", "space": space}
    if index == 5:
        space, _delegation = key(), key()
        return {"type": "CancelInvitation", "space": space}
    space, device = key(), key()
    frontier = r.seq(lambda: (key(), r.varint(64)), 33)
    return {"type": "RemovedDevice", "space": space, "device": device, "frontier": frontier}


def read_credential(r, links):
    if links > CHAIN_LINKS_MAX:
        raise OpError("decode", "device chain too deep")
    start = r.at
    version = r.u8()
    if version != 1:
        raise OpError("decode", "unsupported version %d" % version)
    issuer, subject = r.take(32), r.take(32)
    r.varint(64)  # issued_at, informative only
    parents = r.seq(lambda: r.take(32), 32)
    if parents != sorted(set(parents)) or len(parents) > PARENTS_MAX:
        raise OpError("decode", "parents must be a sorted set of at most 64")
    assertion = read_assertion(r)
    signer = r.take(32)
    body = r.data[start : r.at]
    signature = r.take(64)
    chain = r.option(lambda: read_credential(r, links + 1))
    return {
        "body": body,
        "issuer": issuer,
        "subject": subject,
        "parents": parents,
        "assertion": assertion,
        "signer": signer,
        "signature": signature,
        "chain": chain,
    }


def decode_credential(data):
    if len(data) > CREDENTIAL_SIZE_MAX:
        raise OpError("decode", "too large")
    r = Reader(data)
    credential = read_credential(r, 1)
    if r.at != len(data):
        raise OpError("decode", "trailing bytes")
    return credential


# ----- Ed25519 as SPEC §1.3 pins it (ed25519-dalek's verify_strict) -----

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def decode_point(b):
    """Rule 2: y reduced mod p; fails only if x² has no root."""
    y = int.from_bytes(b, "little") & ((1 << 255) - 1)
    sign = b[31] >> 7
    y %= P
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * SQRT_M1 % P
    elif v * x * x % P != u:
        return None
    if x & 1 != sign and x != 0:
        x = P - x
    return (x, y)


def add(p1, p2):
    (x1, y1), (x2, y2) = p1, p2
    t = D * x1 * x2 * y1 * y2 % P
    x3 = (x1 * y2 + y1 * x2) * pow(1 + t, P - 2, P) % P
    y3 = (y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P) % P
    return (x3, y3)


def small_order(point):
    for _ in range(3):
        point = add(point, point)
    return point == (0, 1)


def verify_strict(public, message, signature):
    r_bytes, s = signature[:32], int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    a, r = decode_point(public), decode_point(r_bytes)
    if a is None or r is None or small_order(a) or small_order(r):
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        return True
    except (InvalidSignature, ValueError):
        return False


# ----- stateless verification (SPEC §3.5, §3.6) -----


def check_frontier(frontier):
    feeds = [f for f, _ in frontier]
    if frontier != sorted(set(frontier)) or len(frontier) > FRONTIER_MAX:
        raise CredentialError("BadShape", "data_frontier: a sorted set of at most 64")
    if len(set(feeds)) != len(feeds):
        raise CredentialError("BadShape", "data_frontier: one position per feed")


def check_shape(c):
    a = c["assertion"]
    kind = a["type"]
    if kind == "SpaceGenesis":
        if not (c["issuer"] == c["subject"] == c["signer"] == a["space"]) or c["parents"]:
            raise CredentialError("BadShape", "genesis")
    elif kind == "AuthorizedDevice":
        if c["issuer"] != a["identity"] or c["subject"] != a["device"] or a["identity"] == a["device"]:
            raise CredentialError("BadShape", "AuthorizedDevice")
    elif kind == "SpaceMember":
        if c["subject"] == a["space"]:
            raise CredentialError("BadShape", "SpaceMember")
        check_frontier(a["frontier"])
    elif kind == "RemovedDevice":
        if c["subject"] != a["device"] or c["issuer"] in (a["device"], a["space"]):
            raise CredentialError("BadShape", "RemovedDevice")
        check_frontier(a["frontier"])
    elif kind in ("DelegateInvitation", "CancelInvitation"):
        if c["subject"] != a["space"]:
            raise CredentialError("BadShape", "invitation credentials have the space key as subject")
    if kind != "SpaceGenesis" and kind != "AuthorizedDevice" and not c["parents"]:
        raise CredentialError("BadShape", "a space credential other than genesis needs parents")


def verify(c, depth):
    if depth > 4:
        raise CredentialError("ChainTooDeep")
    check_shape(c)
    signing_input = tagged("spaces/1 credential", c["body"])
    if not verify_strict(c["signer"], signing_input, c["signature"]):
        raise CredentialError("BadSignature")
    chain = c["chain"]
    if c["signer"] == c["issuer"]:
        if chain is not None:
            raise CredentialError("UnexpectedChain")
    elif chain is None:
        raise CredentialError("MissingChain")
    else:
        a = chain["assertion"]
        if a["type"] != "AuthorizedDevice" or a["identity"] != c["issuer"] or a["device"] != c["signer"]:
            raise CredentialError("ChainMismatch")
        try:
            verify(chain, depth + 1)
        except CredentialError as e:
            raise e if e.name == "ChainTooDeep" else CredentialError("BadChain", str(e))
    return hashlib.sha256(signing_input).hexdigest()


def credential_verify(args):
    text = args.get("credential")
    if not isinstance(text, str):
        raise OpError("bad_args", "input.credential must be a hex string")
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise OpError("bad_args", "input.credential must be hex")
    credential = decode_credential(data)
    try:
        credential_id = verify(credential, 0)
    except CredentialError as e:
        raise OpError("credential", str(e))
    return {"id": credential_id, "type": credential["assertion"]["type"]}


# ----- the driver loop -----


def hello(_args):
    return {"name": "spaces-python-example", "version": "0.1.0", "protocol": PROTOCOL, "ops": OPS}


HANDLERS = {"hello": hello, "code.decode": code_decode, "credential.verify": credential_verify}


def answer(request):
    rid = request.get("id", 0)
    handler = HANDLERS.get(request.get("op"))
    if handler is None:
        return {"id": rid, "unsupported": True}
    try:
        return {"id": rid, "ok": handler(request.get("args") or {})}
    except OpError as e:
        return {"id": rid, "error": {"kind": e.kind, "message": str(e)}}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as e:
            reply = {"id": 0, "error": {"kind": "bad_request", "message": str(e)}}
        else:
            reply = answer(request)
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
