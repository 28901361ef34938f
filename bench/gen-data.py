#!/usr/bin/env python3
"""gen-data.py DIR MIB - mixed data for the benchmarks: half SQL-like text with varied values,
half random bytes, in files of 1-50 MB. Deterministic for a given size (seeded)."""
import os, random, sys

def text_file(path, size, rnd):
    names = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
    cities = ["Lyon", "Porto", "Oslo", "Riga", "Quito", "Dakar", "Perth", "Osaka", "Cusco"]
    with open(path, "w") as f:
        written, i = 0, rnd.randrange(1 << 30)
        f.write("COPY public.orders (id, customer, email, city, amount, created, note) FROM stdin;\n")
        chunk = []
        while written < size:
            i += rnd.randrange(1, 20)
            n = rnd.choice(names)
            line = "%d\t%s %s\t%s.%d@example.com\t%s\t%d.%02d\t2026-%02d-%02d %02d:%02d:%02d\t%s\n" % (
                i, n.title(), rnd.choice(names).title(), n, rnd.randrange(100000),
                rnd.choice(cities), rnd.randrange(100000), rnd.randrange(100),
                rnd.randrange(1, 13), rnd.randrange(1, 29), rnd.randrange(24),
                rnd.randrange(60), rnd.randrange(60),
                "order %x shipped via %s" % (rnd.getrandbits(40), rnd.choice(cities)))
            chunk.append(line)
            written += len(line)
            if len(chunk) >= 4096:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))

def main():
    out, mib = sys.argv[1], int(sys.argv[2])
    rnd = random.Random(mib)
    os.makedirs(out, exist_ok=True)
    total, half, n = 0, mib << 19, 0
    while total < mib << 20:
        size = min(rnd.randrange(1, 51) * 1000000, (mib << 20) - total)
        sub = os.path.join(out, "d%02d" % (n % 7))
        os.makedirs(sub, exist_ok=True)
        path = os.path.join(sub, "f%03d" % n)
        if total < half:
            text_file(path + ".sql", size, rnd)
        else:
            with open(path + ".bin", "wb") as f:
                left = size
                while left:
                    k = min(left, 1 << 20)
                    f.write(os.urandom(k))
                    left -= k
        total += size
        n += 1

main()
