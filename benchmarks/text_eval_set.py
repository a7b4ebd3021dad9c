"""The text-in-photos evaluation set: screenshots rendered from text that Debian packages ship, real
photos with text, and text-free photos (benchmarks/data/text_eval.json).

Two steps:
  - ``spec`` (run once, its output committed before any reader or captioner output was seen): picks
    short messages from the Korean translations that git, coreutils, apt and iso-codes ship
    (/usr/share/locale/ko/LC_MESSAGES/*.mo): a message's English original titles an English
    screenshot, another message's Korean translation a Korean one. Each screenshot's truth is its
    title (the text a reader needs); its requests ask for it by one or two of those words, in Korean
    and in English. Photos are split into dev and held-out by a hash of their id.
  - ``render --out DIR``: renders every screenshot with Debian's chromium (headless --screenshot) and
    fonts-nanum, from the spec and the same .mo files (the body text around each title).

    apt-get install chromium fonts-nanum git coreutils apt iso-codes tuxpaint-stamps-default plasma-workspace-wallpapers
    python benchmarks/text_eval_set.py render --out /tmp/text-eval
"""

from __future__ import annotations

import argparse
import gettext
import hashlib
import html
import json
import re
import subprocess
import tempfile
from pathlib import Path

DATA = Path(__file__).parent / "data" / "text_eval.json"
LOCALE = Path("/usr/share/locale/ko/LC_MESSAGES")
DOMAINS = {"git": "git", "coreutils": "coreutils", "apt": "apt", "iso_3166-1": "iso-codes", "iso_639-2": "iso-codes"}
KINDS = ("document", "web", "chat", "settings")
PER_KIND = 8  # screenshots of each kind in each language
# Window sizes as people take screenshots: desktop pages, a phone (2x), a settings window.
SIZES = {"document": (1280, 800, 1), "web": (1366, 768, 1), "chat": (414, 860, 2), "settings": (1024, 700, 1)}
# Korean particles a request leaves off a word ("패키지를" -> "패키지"): people search by the bare noun.
PARTICLES = ("에서만", "에서", "으로", "만", "을", "를", "이", "가", "은", "는", "의", "에", "로", "와", "과", "도")


def split_of(identifier: str) -> str:
    return "dev" if hashlib.sha256(identifier.encode()).digest()[0] % 2 == 0 else "test"


def catalog(domain: str) -> dict[str, str]:
    with open(LOCALE / f"{domain}.mo", "rb") as handle:
        return {k: v for k, v in gettext.GNUTranslations(handle)._catalog.items() if isinstance(k, str) and k}


def plain(message: str) -> bool:
    """A message that reads as a title: words only (no format codes, options or paths)."""
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z ']{7,40}", message)) and 2 <= len(message.split()) <= 5


def korean_plain(message: str) -> bool:
    return bool(re.fullmatch(r"[가-힣 ]{4,22}", message)) and 2 <= len(message.split()) <= 5


def ranked(items, salt: str) -> list:
    """A fixed, package-independent order (not the catalogue's alphabetical one)."""
    return sorted(items, key=lambda item: hashlib.sha256((salt + item[0]).encode()).hexdigest())


def bare(word: str) -> str:
    for particle in PARTICLES:
        if word.endswith(particle) and len(word) - len(particle) >= 2:
            return word[: -len(particle)]
    return word


def request_words(title: str, language: str, taken: dict[str, int]) -> str:
    """One or two of the title's words that no other title has: the words a person would search by."""
    words = [bare(w) if language == "ko" else w for w in title.split()]
    unique = [w for w in words if taken[w.lower()] == 1 and (len(w) >= 4 if language == "en" else len(w) >= 2)]
    # Longest first, but a noun before a verb ending ("플레이스홀더" before "인용합니다"): people search by names.
    unique.sort(key=lambda w: (w.endswith(("니다", "니까")), -len(w)))
    return " ".join(unique[:1]) if unique else title


EN_REQUESTS = ("the screenshot that says {w}", "find the picture with {w} on it", "{w}", "show me the image with the words {w}")
KO_REQUESTS = ("“{w}” 화면 찾아 줘", "{w} 나온 스크린샷 보여 줘", "{w} 사진", "{w} 글자가 있는 사진 찾아 줘")


def make_spec() -> dict:
    titles: list[dict] = []
    used_words: set[str] = set()
    for language in ("en", "ko"):
        candidates = []
        for domain in DOMAINS:
            for msgid, msgstr in catalog(domain).items():
                text = msgid if language == "en" else msgstr
                if (plain(msgid) if language == "en" else korean_plain(msgstr) and plain(msgid)):
                    candidates.append((text, domain, msgid))
        chosen = []
        for text, domain, msgid in ranked(candidates, language):
            words = {w.lower() for w in text.split()}
            if words & used_words or len(chosen) >= PER_KIND * len(KINDS):
                continue  # titles share no word: each request has one right answer
            used_words |= words
            chosen.append((text, domain, msgid))
        titles += [{"language": language, "title": t, "domain": d, "msgid": m} for t, d, m in chosen]
    taken: dict[str, int] = {}
    for entry in titles:
        for word in {bare(w) if entry["language"] == "ko" else w for w in entry["title"].split()}:
            taken[word.lower()] = taken.get(word.lower(), 0) + 1
    photos = []
    for index, entry in enumerate(titles):
        kind = KINDS[index % len(KINDS)]
        identifier = f"{entry['language']}-{kind}-{index:02d}"
        words = request_words(entry["title"], entry["language"], taken)
        photos.append({
            "id": identifier, "split": split_of(identifier), "kind": kind, "language": entry["language"],
            "source": f"render:{identifier}.png", "package": DOMAINS[entry["domain"]], "domain": entry["domain"],
            "msgid": entry["msgid"], "truth": entry["title"],
            "en": EN_REQUESTS[index % 4].format(w=words), "ko": KO_REQUESTS[(index // 4) % 4].format(w=words),
        })
    return photos


# Real photos with text that packages ship (few do); truth as a reader needs it.
REAL_TEXT = [
    {"id": "stop-sign", "source": "tuxpaint-stamps-default:town/roadsigns/stop.png", "kind": "sign", "language": "en",
     "truth": "STOP", "en": "the stop sign", "ko": "STOP 표지판 사진"},
    {"id": "give-way-sign", "source": "tuxpaint-stamps-default:town/roadsigns/give_way_sign.png", "kind": "sign",
     "language": "en", "truth": "GIVE WAY", "en": "the sign that says give way", "ko": "GIVE WAY 표지판 찾아 줘"},
    {"id": "book-page", "source": "scikit-image:page.png", "kind": "page", "language": "en",
     "truth": "Region-based segmentation", "en": "the page about segmentation", "ko": "segmentation 페이지 사진"},
]


def text_free(describe_find: dict) -> list[dict]:
    """The describe-then-find photos (tuxpaint's photo stamps, Plasma's wallpapers), less those with writing."""
    # Looked at one by one: these carry writing (a postal logo, a plane's livery, a brand, a number).
    with_text = {"mailbox", "airplane", "tank", "camera", "fire_engine", "tennis_racket"}
    return [{"id": f"free-{p['id']}", "source": p["source"], "kind": "photo", "language": None, "truth": "",
             "split": split_of("free-" + p["id"])} for p in describe_find["photos"] if p["id"] not in with_text]


PAGE = """<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><style>
body {{ margin: 0; font-family: {font}; color: #222; background: {bg}; }}
{css}</style></head><body>{body}</body></html>"""

CSS = {
    "document": """.bar { background:#f0f0f0; border-bottom:1px solid #ccc; padding:8px 16px; font-size:13px; color:#555 }
main { max-width: 760px; margin: 36px auto; } h1 { font-size: 34px; margin: 0 0 24px } p { font-size: 17px; line-height: 1.6 }""",
    "web": """nav { background:#1d3557; padding:14px 28px } nav a { color:#f1faee; margin-right:22px; font-size:15px; text-decoration:none }
.hero { padding: 60px 28px; background:#e9f1f7 } h1 { font-size: 44px; margin:0 } .cards { display:flex; gap:18px; padding:28px }
.card { flex:1; border:1px solid #ccd; border-radius:8px; padding:16px; font-size:15px; background:white }""",
    "chat": """header { background:#075e54; color:white; padding:14px; font-size:20px; font-weight:bold }
.msg { margin:10px 12px; padding:10px 14px; border-radius:14px; font-size:16px; max-width:75% }
.in { background:white } .out { background:#dcf8c6; margin-left:auto } .list { display:flex; flex-direction:column }""",
    "settings": """.win { display:flex; height:100vh } aside { width:240px; background:#eceff1; padding:18px 0 }
aside div { padding:9px 20px; font-size:14px; color:#444 } aside .on { background:#cfd8dc; font-weight:bold }
section { flex:1; padding:26px 34px } h1 { font-size:28px; margin:0 0 20px } .row { display:flex; justify-content:space-between;
border-bottom:1px solid #e0e0e0; padding:13px 0; font-size:15px } .sw { width:38px; height:20px; border-radius:10px; background:#4caf50 }""",
}


def body_texts(photo: dict, messages: dict[str, str]) -> list[str]:
    """Other short messages of the same catalogue, in the photo's language: the text around the title."""
    pool = [(k, v) for k, v in messages.items() if k != photo["msgid"] and 3 <= len(k.split()) <= 12 and "%" not in k
            and "\n" not in k and (photo["language"] == "en" or re.search("[가-힣]", v))]
    picked = ranked(pool, photo["id"])[:8]
    return [html.escape(k if photo["language"] == "en" else v) for k, v in picked]


def page(photo: dict, messages: dict[str, str]) -> str:
    title, texts, kind = html.escape(photo["truth"]), body_texts(photo, messages), photo["kind"]
    if kind == "document":
        body = f"<div class=bar>{texts[0]}</div><main><h1>{title}</h1>" + "".join(f"<p>{t}. {u}.</p>" for t, u in zip(texts[1::2], texts[2::2])) + "</main>"
    elif kind == "web":
        body = "<nav>" + "".join(f"<a>{t.split()[0]}</a>" for t in texts[:4]) + f"</nav><div class=hero><h1>{title}</h1></div><div class=cards>" + "".join(f"<div class=card>{t}</div>" for t in texts[4:7]) + "</div>"
    elif kind == "chat":
        body = f"<header>{title}</header><div class=list>" + "".join(f"<div class='msg {'in' if i % 2 == 0 else 'out'}'>{t}</div>" for i, t in enumerate(texts[:6])) + "</div>"
    else:
        body = "<div class=win><aside>" + "".join(f"<div{' class=on' if i == 1 else ''}>{t.split()[0]}</div>" for i, t in enumerate(texts[:5])) + f"</aside><section><h1>{title}</h1>" + "".join(f"<div class=row><span>{t}</span><span class=sw></span></div>" for t in texts[5:8]) + "</section></div>"
    font = "'NanumGothic', sans-serif" if photo["language"] == "ko" else "'DejaVu Sans', sans-serif"
    return PAGE.format(lang=photo["language"], font=font, bg="#ece5dd" if kind == "chat" else "white", css=CSS[kind], body=body)


def render(spec: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    catalogues = {domain: catalog(domain) for domain in DOMAINS}
    with tempfile.TemporaryDirectory() as scratch:
        for photo in spec["photos"]:
            if not photo["source"].startswith("render:"):
                continue
            html_file = Path(scratch) / f"{photo['id']}.html"
            html_file.write_text(page(photo, catalogues[photo["domain"]]), encoding="utf-8")
            width, height, scale = SIZES[photo["kind"]]
            target = out / photo["source"].split(":", 1)[1]
            subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            f"--force-device-scale-factor={scale}", f"--window-size={width},{height}",
                            f"--screenshot={target}", html_file.as_uri()], check=True, capture_output=True, timeout=120)
            print(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=["spec", "render"])
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "text-eval")
    args = parser.parse_args()
    if args.step == "spec":
        describe_find = json.loads((Path(__file__).parent / "data" / "describe_find_eval.json").read_text(encoding="utf-8"))
        real = [{**photo, "split": split_of(photo["id"])} for photo in REAL_TEXT]
        spec = {
            "about": __doc__.split("\n\n")[0],
            "packages": ["chromium", "fonts-nanum", "git", "coreutils", "apt", "iso-codes", *describe_find["packages"]],
            "roots": {**describe_find["roots"], "scikit-image": "skimage/data"},
            "photos": make_spec() + real + text_free(describe_find),
        }
        DATA.write_text(json.dumps(spec, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"{DATA}: {len(spec['photos'])} photos")
    else:
        render(json.loads(DATA.read_text(encoding="utf-8")), args.out)


if __name__ == "__main__":
    main()
