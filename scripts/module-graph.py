#!/usr/bin/env python3
"""Prints the module graph as ARCHITECTURE.md shows it: each module of Sources/ and the
project modules its files import (direct imports, from the code itself). The test
`ArchitectureMapTests` holds ARCHITECTURE.md's copy equal to what the imports say."""
import os
import re

src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources")
mods = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
for m in mods:
    if m.startswith("C"):
        continue
    imports = set()
    for root, _, files in os.walk(os.path.join(src, m)):
        for f in files:
            if f.endswith(".swift"):
                for line in open(os.path.join(root, f), encoding="utf-8"):
                    found = re.match(r"\s*(?:@testable\s+)?import\s+(\w+)", line)
                    if found and found.group(1) in mods and found.group(1) != m:
                        imports.add(found.group(1))
    print(f"{m:19} → {', '.join(sorted(imports)) or '—'}")
