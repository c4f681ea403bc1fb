"""Benchmark: offline speech synthesis speed of the sandbox (espeak-ng + MP3 encoding).

    .venv/bin/python bench/bench_synthesis.py [--repeat N]

Writes a level-2 (1-3 min) two-speaker interview script in English and in Japanese with the
sandbox script writer, then times `tts.synthesize` (speech and MP3 encoding) for each. Prints
seconds of audio per second of wall time; the target is faster than real time (> 1x) on a
2-core machine. Exits 1 if a language misses it.
"""

from __future__ import annotations

import argparse
import io
import sys
import time

from mutagen.mp3 import MP3

from acbatch.sandbox import tts
from acbatch.sandbox.catalog import profile_for_voice_id, sandbox_catalog
from acbatch.sandbox.scriptwriter import count_units, write_script

ENGLISH = """# The Quiet Revolution of Urban Beekeeping

Urban beekeeping has grown rapidly over the past decade, with rooftop hives appearing in cities
from London to Tokyo. Beekeepers say city bees often produce more honey than their rural
cousins. The reason is surprisingly simple: cities offer a rich variety of flowers in parks,
gardens and along streets, and fewer pesticides than intensive farmland.

But the boom has a downside. Researchers warn that too many honeybee colonies can crowd out
wild pollinators, such as solitary bees and bumblebees, which compete for the same limited
nectar. In some parts of Paris, the density of hives has become so high that each colony
gathers less food than before.

City councils are responding in different ways. Some now require beekeepers to register their
hives, while others fund the planting of wildflower corridors to increase the food supply.
Experts recommend that new beekeepers first ask whether their neighbourhood needs another hive.

For many people, keeping bees is a way to reconnect with nature. Schools use hives to teach
children about ecosystems, and companies install them on office roofs as part of sustainability
programmes. Critics call this bee-washing, arguing that planting flowers would do more for
biodiversity than adding honeybees. The key lesson is that helping bees means helping all bees.
"""

JAPANESE = """都市養蜂の静かな革命

都市での養蜂はこの十年で急速に広がり、ロンドンから東京まで屋上に巣箱が現れています。都会のミツバチは田舎のミツバチよりも多くの蜂蜜を作ることがあると養蜂家は言います。理由は意外に単純で、公園や庭、街路には多様な花があり、農薬も少ないからです。

しかし、このブームには欠点もあります。ミツバチの巣が多すぎると、野生の花粉媒介者が同じ蜜を奪い合うことになると研究者は警告しています。パリの一部では巣箱の密度が高くなりすぎ、一つの群れが集める食料が減っています。

自治体の対応はさまざまです。巣箱の登録を義務づけるところもあれば、野花の回廊を作るところもあります。大切なのは、蜂蜜を作るミツバチだけでなく、すべてのハチを助けることです。
"""


def turns_for(
    source: str, language: str, speakers: tuple[str, str]
) -> list[tuple[str, tts.VoiceProfile]]:
    catalog = sandbox_catalog()
    script = write_script(
        source,
        style=2,
        duration=2,
        language=language,
        speakers=[catalog.find(name) for name in speakers],
        source_data="bench",
    )
    roles: dict[str, int] = {}
    return [
        (
            turn["text"],
            profile_for_voice_id(
                turn["voice_id"], language, roles.setdefault(turn["role"], len(roles))
            ),
        )
        for turn in script["podcast_script"]
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per language")
    args = parser.parse_args()

    started = time.perf_counter()
    tts.sample_rate()
    print(f"espeak-ng initialisation: {time.perf_counter() - started:.3f} s")

    ok = True
    cases = (("en", ENGLISH, ("ava", "leo")), ("ja", JAPANESE, ("yui", "haruto")))
    for language, source, speakers in cases:
        turns = turns_for(source, language, speakers)
        units = sum(count_units(text, language) for text, _ in turns)
        best = float("inf")
        result = None
        for _ in range(max(1, args.repeat)):
            started = time.perf_counter()
            result = tts.synthesize(turns)
            best = min(best, time.perf_counter() - started)
        assert result is not None
        mp3_seconds = MP3(io.BytesIO(result.mp3)).info.length
        speed = result.duration / best
        unit = "characters" if language == "ja" else "words"
        print(
            f"{language}: {len(turns)} turns, {units} {unit}, {result.duration:.1f} s of audio "
            f"(MP3 {mp3_seconds:.1f} s, {len(result.mp3) // 1024} KiB) in {best:.2f} s "
            f"-> {speed:.0f}x real time"
        )
        ok = ok and speed > 1.0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
