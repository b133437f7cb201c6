"""The two OpenPGP packets assertions use, encoded and decoded by hand.

PGPy is poorly maintained and breaks with current `cryptography`, and snapd only needs
an RFC 4880 v4 RSA public-key packet (tag 6) and a v4 signature packet (tag 2), both
with new-format headers. RSA itself is left to `cryptography`.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Final

PUBLIC_KEY_TAG: Final = 6
SIGNATURE_TAG: Final = 2
RSA_ALGORITHM: Final = 1
BINARY_DOCUMENT: Final = 0x00
# snapd rebuilds every public-key packet with this creation time (2016-01-01T00:00:00Z).
FIXED_KEY_CREATION_TIME: Final = 0x5685C180

HASH_SHA256: Final = 8
HASH_SHA384: Final = 9
HASH_SHA512: Final = 10
HASH_NAMES: Final = {HASH_SHA256: "sha256", HASH_SHA384: "sha384", HASH_SHA512: "sha512"}

SUBPACKET_CREATION_TIME: Final = 2
SUBPACKET_ISSUER: Final = 16
SUBPACKET_ISSUER_FINGERPRINT: Final = 33
# Subpacket types Go's openpgp understands; a critical subpacket of any other type is refused.
KNOWN_SUBPACKETS: Final = frozenset({2, 3, 9, 11, 16, 20, 21, 22, 23, 25, 27, 29, 30, 32, 33})


class PacketError(ValueError):
    """A packet is malformed or uses something other than v4 RSA."""


def encode_length(length: int) -> bytes:
    """New-format packet (and subpacket) length octets."""
    if length < 192:
        return bytes([length])
    if length < 8384:
        rest = length - 192
        return bytes([(rest >> 8) + 192, rest & 0xFF])
    return b"\xff" + struct.pack(">I", length)


def _decode_length(data: bytes, pos: int) -> tuple[int, int]:
    """Return (length, position after the length octets); partial lengths are refused."""
    if pos >= len(data):
        raise PacketError("truncated length")
    first = data[pos]
    if first < 192:
        return first, pos + 1
    if first < 224:
        if pos + 2 > len(data):
            raise PacketError("truncated length")
        return ((first - 192) << 8) + data[pos + 1] + 192, pos + 2
    if first == 255:
        if pos + 5 > len(data):
            raise PacketError("truncated length")
        return struct.unpack(">I", data[pos + 1 : pos + 5])[0], pos + 5
    raise PacketError("partial body lengths are not supported")


def encode_packet(tag: int, body: bytes) -> bytes:
    return bytes([0xC0 | tag]) + encode_length(len(body)) + body


def decode_packet(data: bytes, expected_tag: int) -> bytes:
    """Return the body of the single new-format packet that must make up all of `data`."""
    if not data or data[0] != 0xC0 | expected_tag:
        raise PacketError(f"expected a new-format packet with tag {expected_tag}")
    length, pos = _decode_length(data, 1)
    if pos + length != len(data):
        raise PacketError("packet length does not match the data")
    return data[pos:]


def encode_mpi(value: int) -> bytes:
    bits = value.bit_length()
    return struct.pack(">H", bits) + value.to_bytes((bits + 7) // 8, "big")


def _decode_mpi(data: bytes, pos: int) -> tuple[int, int]:
    if pos + 2 > len(data):
        raise PacketError("truncated MPI")
    bits = struct.unpack(">H", data[pos : pos + 2])[0]
    end = pos + 2 + (bits + 7) // 8
    if end > len(data):
        raise PacketError("truncated MPI")
    value = int.from_bytes(data[pos + 2 : end], "big")
    if value.bit_length() != bits:
        raise PacketError("MPI bit count does not match its value")
    return value, end


@dataclass(frozen=True)
class RSAPublicKeyPacket:
    modulus: int
    exponent: int
    created: int


def public_key_packet_body(modulus: int, exponent: int, created: int) -> bytes:
    return (
        struct.pack(">BIB", 4, created, RSA_ALGORITHM) + encode_mpi(modulus) + encode_mpi(exponent)
    )


def encode_public_key_packet(
    modulus: int, exponent: int, created: int = FIXED_KEY_CREATION_TIME
) -> bytes:
    return encode_packet(PUBLIC_KEY_TAG, public_key_packet_body(modulus, exponent, created))


def decode_public_key_packet(packet: bytes) -> RSAPublicKeyPacket:
    body = decode_packet(packet, PUBLIC_KEY_TAG)
    if len(body) < 6 or body[0] != 4:
        raise PacketError("only v4 public-key packets are supported")
    created = struct.unpack(">I", body[1:5])[0]
    if body[5] != RSA_ALGORITHM:
        raise PacketError("only RSA public keys are supported")
    modulus, pos = _decode_mpi(body, 6)
    exponent, pos = _decode_mpi(body, pos)
    if pos != len(body):
        raise PacketError("trailing data in public-key packet")
    return RSAPublicKeyPacket(modulus, exponent, created)


def issuer_key_id(modulus: int, exponent: int, created: int = FIXED_KEY_CREATION_TIME) -> bytes:
    """The 8-byte OpenPGP key ID: the low 64 bits of the v4 SHA-1 fingerprint."""
    body = public_key_packet_body(modulus, exponent, created)
    fingerprint = hashlib.sha1(
        b"\x99" + struct.pack(">H", len(body)) + body, usedforsecurity=False
    ).digest()
    return fingerprint[12:]


def encode_subpacket(kind: int, data: bytes) -> bytes:
    return encode_length(len(data) + 1) + bytes([kind]) + data


@dataclass(frozen=True)
class Subpacket:
    kind: int
    critical: bool
    data: bytes


def decode_subpackets(area: bytes) -> list[Subpacket]:
    subpackets: list[Subpacket] = []
    pos = 0
    while pos < len(area):
        length, pos = _decode_length(area, pos)
        if length == 0 or pos + length > len(area):
            raise PacketError("bad subpacket length")
        kind = area[pos] & 0x7F
        critical = bool(area[pos] & 0x80)
        if critical and kind not in KNOWN_SUBPACKETS:
            raise PacketError(f"unknown critical signature subpacket {kind}")
        subpackets.append(Subpacket(kind, critical, area[pos + 1 : pos + length]))
        pos += length
    return subpackets


@dataclass(frozen=True)
class SignaturePacket:
    """A decoded v4 signature packet.

    `hashed_prefix` holds the octets from the version through the hashed subpackets;
    the signed data is `content + signed_suffix(hashed_prefix)`.
    """

    hash_algorithm: int
    hashed_prefix: bytes
    hashed_subpackets: tuple[Subpacket, ...]
    unhashed_subpackets: tuple[Subpacket, ...]
    hash_left16: bytes
    signature: int
    created: int


def signed_suffix(hashed_prefix: bytes) -> bytes:
    """What is hashed after the content: the hashed prefix and the v4 trailer."""
    return hashed_prefix + b"\x04\xff" + struct.pack(">I", len(hashed_prefix))


def hashed_signature_prefix(hash_algorithm: int, created: int) -> bytes:
    hashed = encode_subpacket(SUBPACKET_CREATION_TIME, struct.pack(">I", created))
    return (
        struct.pack(">BBBBH", 4, BINARY_DOCUMENT, RSA_ALGORITHM, hash_algorithm, len(hashed))
        + hashed
    )


def encode_signature_packet(
    hashed_prefix: bytes, unhashed: bytes, hash_left16: bytes, signature: int
) -> bytes:
    body = hashed_prefix + struct.pack(">H", len(unhashed)) + unhashed + hash_left16
    return encode_packet(SIGNATURE_TAG, body + encode_mpi(signature))


def decode_signature_packet(packet: bytes) -> SignaturePacket:
    body = decode_packet(packet, SIGNATURE_TAG)
    if len(body) < 6:
        raise PacketError("truncated signature packet")
    version, sig_type, algorithm, hash_algorithm, hashed_len = struct.unpack(">BBBBH", body[:6])
    if version != 4:
        raise PacketError("only v4 signature packets are supported")
    if sig_type != BINARY_DOCUMENT:
        raise PacketError("only binary-document signatures are supported")
    if algorithm != RSA_ALGORITHM:
        raise PacketError("only RSA signatures are supported")
    if hash_algorithm not in HASH_NAMES:
        raise PacketError(f"unsupported hash algorithm {hash_algorithm}")
    pos = 6 + hashed_len
    if pos + 2 > len(body):
        raise PacketError("truncated signature packet")
    hashed = decode_subpackets(body[6:pos])
    unhashed_len = struct.unpack(">H", body[pos : pos + 2])[0]
    unhashed_end = pos + 2 + unhashed_len
    if unhashed_end + 2 > len(body):
        raise PacketError("truncated signature packet")
    unhashed = decode_subpackets(body[pos + 2 : unhashed_end])
    signature, end = _decode_mpi(body, unhashed_end + 2)
    if end != len(body):
        raise PacketError("trailing data in signature packet")
    times = [s.data for s in hashed if s.kind == SUBPACKET_CREATION_TIME]
    if len(times) != 1 or len(times[0]) != 4:
        raise PacketError("signature needs exactly one hashed creation time")
    return SignaturePacket(
        hash_algorithm=hash_algorithm,
        hashed_prefix=body[:pos],
        hashed_subpackets=tuple(hashed),
        unhashed_subpackets=tuple(unhashed),
        hash_left16=body[unhashed_end : unhashed_end + 2],
        signature=signature,
        created=struct.unpack(">I", times[0])[0],
    )
