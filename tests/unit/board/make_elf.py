#!/usr/bin/env python3
"""Writes a minimal ELF64 little-endian executable header for the board install tests:
the machine, a program interpreter and DT_NEEDED entries, so that `readelf -h`, `-l` and
`-d` report them as they would for a real cross-built binary. It is not meant to run.

Usage: make_elf.py OUTPUT --machine aarch64|x86_64 [--interp PATH] [NEEDED ...]
"""
import argparse
import struct

MACHINES = {"aarch64": 183, "x86_64": 62}
BASE = 0x400000
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ = 0, 1, 5, 10


def build(machine: int, interp: str, needed: list[str]) -> bytes:
    ehsize, phentsize, phnum = 64, 56, 3
    offset = ehsize + phentsize * phnum
    interp_bytes = interp.encode() + b"\0"
    interp_off = offset
    offset += len(interp_bytes)
    strtab = b"\0"
    name_offsets = []
    for name in needed:
        name_offsets.append(len(strtab))
        strtab += name.encode() + b"\0"
    strtab_off = offset
    offset += len(strtab)
    offset = (offset + 7) & ~7
    dyn_entries = [(DT_NEEDED, o) for o in name_offsets]
    dyn_entries += [(DT_STRTAB, BASE + strtab_off), (DT_STRSZ, len(strtab)), (DT_NULL, 0)]
    dynamic = b"".join(struct.pack("<qQ", tag, value) for tag, value in dyn_entries)
    dyn_off = offset
    total = dyn_off + len(dynamic)

    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 3, machine, 1, BASE + total, ehsize, 0, 0,
                                 ehsize, phentsize, phnum, 64, 0, 0)
    phdrs = struct.pack("<IIQQQQQQ", PT_INTERP, 4, interp_off, BASE + interp_off,
                        BASE + interp_off, len(interp_bytes), len(interp_bytes), 1)
    phdrs += struct.pack("<IIQQQQQQ", PT_LOAD, 5, 0, BASE, BASE, total, total, 0x1000)
    phdrs += struct.pack("<IIQQQQQQ", PT_DYNAMIC, 6, dyn_off, BASE + dyn_off, BASE + dyn_off,
                         len(dynamic), len(dynamic), 8)
    body = header + phdrs + interp_bytes + strtab
    body += bytes(dyn_off - len(body)) + dynamic
    assert len(body) == total
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--machine", choices=sorted(MACHINES), required=True)
    parser.add_argument("--interp", default="/lib/ld-linux-aarch64.so.1")
    parser.add_argument("needed", nargs="*")
    args = parser.parse_intermixed_args()
    with open(args.output, "wb") as out:
        out.write(build(MACHINES[args.machine], args.interp, args.needed))


if __name__ == "__main__":
    main()
