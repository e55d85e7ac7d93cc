"""Tux Paint's stamps as sound sources: which stamps are used, how they merge into classes, and where they live.

Every stamp of ``tuxpaint-stamps-default`` that has a picture and a recording of its own (``<stem>.ogg``; not the
spoken names ``<stem>_<locale>.ogg`` nor the description voices ``<stem>_desc*.ogg``) is listed below, kept as a
class, merged with stamps a listener could not tell apart, or dropped with the reason. Class names and synonyms come
from the stamps' own description texts (``<stem>.txt``, first line: "A frog."), plus the verbs of the sound
("croaks"), which is how models name what they hear. The stamps are GPL-licensed and read from the user's
installation, never copied into this repository.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from acpo_bench.lexicon import surface_variants

PACKAGE = "tuxpaint-stamps-default"
ENV_DIR = "ACPO_BENCH_STAMPS"
SEARCH_DIRS = ("/usr/share/tuxpaint/stamps", "/usr/local/share/tuxpaint/stamps", "/opt/homebrew/share/tuxpaint/stamps",
               "/opt/local/share/tuxpaint/stamps")


class StampsNotInstalled(RuntimeError):
    """The stamp collection is not on this machine; the message names the command that installs it."""


@dataclass(frozen=True)
class StampClass:
    name: str
    stamps: tuple[str, ...]  # stems relative to the stamps directory
    sound_words: tuple[str, ...]  # what the source does, as a listener says it: "croak", "croaking"
    phrases: tuple[str, str]  # audio-caption phrases, as in the synthetic world ("a frog croaks")


def _c(name: str, stamps: str, words: str, phrase: str, phrase2: str) -> StampClass:
    return StampClass(name, tuple(stamps.split()), tuple(words.split()), (phrase, phrase2))


CLASSES: tuple[StampClass, ...] = (
    _c("frog", "animals/amphibians/frog", "croak croaks croaking ribbit", "a frog croaks", "a frog is croaking"),
    # two songbirds of the same family of song: a listener cannot tell a blackbird from a lark
    _c("songbird", "animals/birds/blackbird animals/birds/lark", "birdsong singing sings tweet tweeting warbling",
       "a songbird sings", "birdsong is heard"),
    _c("crow", "animals/birds/crow", "caw caws cawing", "a crow caws", "a crow is cawing"),
    _c("cuckoo", "animals/birds/cuckoo", "cuckooing", "a cuckoo calls", "a cuckoo is calling"),
    _c("duck", "animals/birds/drake animals/birds/duck", "quack quacks quacking", "a duck quacks",
       "a duck is quacking"),
    _c("goose", "animals/birds/gander", "honk honks honking", "a goose honks", "a goose is honking"),
    _c("hen", "animals/birds/hen", "cluck clucks clucking chicken", "a hen clucks", "a hen is clucking"),
    _c("heron", "animals/birds/heron_greatblue_flying", "squawk squawks squawking", "a heron squawks",
       "a heron calls"),
    _c("rhea", "animals/birds/nandou", "booming", "a rhea booms", "a rhea calls"),
    _c("owl", "animals/birds/owl", "hoot hoots hooting", "an owl hoots", "an owl is hooting"),
    _c("penguin", "animals/birds/penguin", "braying squawking", "a penguin calls", "a penguin is braying"),
    _c("quetzal", "animals/birds/quetzal", "calling", "a quetzal calls", "a quetzal is calling"),
    _c("rooster", "animals/birds/rooster", "crow crows crowing cock-a-doodle-doo", "a rooster crows",
       "a rooster is crowing"),
    _c("seagull", "animals/birds/seagull", "gull cry cries crying", "a seagull cries", "seagulls are crying"),
    _c("toucan", "animals/birds/tucan", "croaking calling", "a toucan calls", "a toucan is croaking"),
    _c("turkey", "animals/birds/turkey", "gobble gobbles gobbling", "a turkey gobbles", "a turkey is gobbling"),
    _c("vulture", "animals/birds/vulture", "hiss hissing", "a vulture hisses", "a vulture calls"),
    # a bee's buzz and a hornet's differ by pitch only
    _c("bee", "animals/insects/bee animals/insects/hornet", "buzz buzzes buzzing wasp", "a bee buzzes",
       "a bee is buzzing"),
    _c("grasshopper", "animals/insects/grasshopper", "chirp chirps chirping cricket", "a grasshopper chirps",
       "a grasshopper is chirping"),
    _c("iguana", "animals/lizards/iguana", "hiss hissing", "an iguana hisses", "an iguana is hissing"),
    _c("chimpanzee", "animals/mammals/apes/chimp", "chimp hoot hooting screech screeching", "a chimpanzee hoots",
       "a chimpanzee is screeching"),
    _c("gorilla", "animals/mammals/apes/gorilla", "grunt grunts grunting", "a gorilla grunts",
       "a gorilla is grunting"),
    _c("dolphin", "animals/mammals/aquatic/dolphin", "click clicks clicking whistle whistling", "a dolphin clicks",
       "a dolphin is whistling"),
    _c("sea lion", "animals/mammals/aquatic/sea_lion", "bark barks barking", "a sea lion barks",
       "a sea lion is barking"),
    # an orca's call and a whale's song are both long tonal calls under water
    _c("whale", "animals/mammals/aquatic/orca animals/mammals/aquatic/whale", "song singing whalesong",
       "a whale sings", "a whale is calling"),
    _c("badger", "animals/mammals/badger", "snuffle snuffling growl", "a badger growls", "a badger is snuffling"),
    _c("bear", "animals/mammals/bears/bear", "growl growls growling roar", "a bear growls", "a bear is growling"),
    # bison, bull and cows all low; no listener tells a bull's bellow from a cow's moo
    _c("cow", "animals/mammals/bovines/bison animals/mammals/bovines/bull animals/mammals/bovines/cow "
              "animals/mammals/bovines/cow_white", "moo moos mooing lowing cattle", "a cow moos", "a cow is mooing"),
    _c("goat", "animals/mammals/bovines/goat animals/mammals/bovines/mountaingoat animals/mammals/bovines/ram",
       "bleat bleats bleating", "a goat bleats", "a goat is bleating"),
    _c("sheep", "animals/mammals/bovines/sheep animals/mammals/bovines/sheep_lamb", "baa baas baaing",
       "a sheep baas", "a sheep is bleating"),
    _c("camel", "animals/mammals/camel/camel animals/mammals/camel/dromedary", "groan groans groaning grunting",
       "a camel groans", "a camel is grunting"),
    # a lion's roar and a tiger's are one sound to a listener; the class is named for both
    _c("big cat", "animals/mammals/cats/lion animals/mammals/cats/tiger", "roar roars roaring",
       "a big cat roars", "a big cat is roaring"),
    _c("deer", "animals/mammals/deer/caribou animals/mammals/deer/deer animals/mammals/deer/doe",
       "bellow bellowing bleat grunting", "a deer calls", "a deer is bellowing"),
    _c("dog", "animals/mammals/dogs/dog", "bark barks barking woof", "a dog barks", "a dog is barking"),
    _c("fox", "animals/mammals/dogs/fox", "yelp yelps yelping scream", "a fox yelps", "a fox is screaming"),
    _c("elephant", "animals/mammals/elephant", "trumpet trumpets trumpeting", "an elephant trumpets",
       "an elephant is trumpeting"),
    _c("donkey", "animals/mammals/equines/donkey", "bray brays braying hee-haw", "a donkey brays",
       "a donkey is braying"),
    _c("horse", "animals/mammals/equines/horse", "neigh neighs neighing whinny", "a horse neighs",
       "a horse is neighing"),
    _c("zebra", "animals/mammals/equines/zebra", "bark barking braying", "a zebra calls", "a zebra is barking"),
    _c("ferret", "animals/mammals/ferret", "dook dooking chatter", "a ferret chatters", "a ferret is dooking"),
    _c("giraffe", "animals/mammals/giraffe", "hum humming snort", "a giraffe snorts", "a giraffe is humming"),
    _c("hippopotamus", "animals/mammals/hippopotamus", "hippo grunt grunts wheeze honking", "a hippopotamus grunts",
       "a hippo is honking"),
    _c("pig", "animals/mammals/pig animals/mammals/pig_golden animals/mammals/pig_golden2",
       "oink oinks oinking grunt squeal", "a pig oinks", "a pig is grunting"),
    _c("beaver", "animals/mammals/rodents/beaver", "gnaw gnawing chewing", "a beaver gnaws", "a beaver is chewing"),
    _c("mouse", "animals/mammals/rodents/mouse", "squeak squeaks squeaking", "a mouse squeaks",
       "a mouse is squeaking"),
    _c("rabbit", "animals/mammals/rodents/rabbit", "bunny thump thumping munching", "a rabbit thumps",
       "a rabbit is munching"),
    _c("squirrel", "animals/mammals/rodents/squirrel", "chatter chattering chirp", "a squirrel chatters",
       "a squirrel is chattering"),
    _c("koala", "animals/marsupials/koala", "bellow bellows bellowing", "a koala bellows", "a koala is bellowing"),
    _c("wombat", "animals/marsupials/wombat", "hiss huff grunting", "a wombat huffs", "a wombat is grunting"),
    _c("bat", "seasonal/halloween/bat_left", "squeak squeaking screech", "a bat squeaks", "a bat is screeching"),
    _c("cat", "seasonal/halloween/blackcat", "meow meows meowing kitten", "a cat meows", "a cat is meowing"),
    _c("camera", "hobbies/camera_35mm", "shutter click clicks clicking snap", "a camera shutter clicks",
       "a camera clicks"),
    _c("cymbal", "hobbies/music/percussion/cymbal_crash", "crash crashing clash", "a cymbal crashes",
       "a cymbal is struck"),
    # a floor tom and a drum kit's toms are the same struck skin
    _c("drum", "hobbies/music/percussion/drum_tomtom_floor hobbies/music/percussion/drumkit",
       "drumming drumbeat drums percussion", "a drum beats", "someone plays the drums"),
    _c("cello", "hobbies/music/string/cello", "bowing bowed strings", "a cello plays", "a cello is bowed"),
    _c("violin", "hobbies/music/string/violin", "fiddle fiddling bowed", "a violin plays", "a violin is played"),
    _c("bassoon", "hobbies/music/wind/bassoon", "woodwind reed", "a bassoon plays", "a bassoon is played"),
    _c("washing machine", "household/Washing-machine", "washer spinning spin churning", "a washing machine spins",
       "a washing machine is running"),
    _c("scissors", "household/arttools/scissors_small_closed household/arttools/scissors_small_open",
       "snip snips snipping cutting", "scissors snip", "scissors are cutting"),
    _c("bottle", "household/dishes/bottle", "pop popping clink", "a bottle pops", "a bottle clinks"),
    _c("glass", "household/dishes/glass", "pouring pour clink", "water is poured into a glass", "a glass clinks"),
    _c("kettle", "household/kettle", "boil boiling bubbling", "a kettle boils", "a kettle is boiling"),
    _c("rubber duck", "household/rubberduck", "squeak squeaks squeaking", "a rubber duck squeaks",
       "a rubber duck is squeezed"),
    _c("toilet", "household/toilet", "flush flushes flushing", "a toilet flushes", "a toilet is flushed"),
    # a hammer and a metal mallet striking are the same blow
    _c("hammer", "household/tools/hammer household/tools/mallet_metal", "mallet hammering pounding banging",
       "a hammer pounds", "someone is hammering"),
    _c("saw", "household/tools/saw", "sawing rasping", "a saw rasps", "someone is sawing"),
    _c("vacuum cleaner", "household/vacuum_cleaner", "vacuum hoover whirring", "a vacuum cleaner whirs",
       "a vacuum cleaner is running"),
    _c("lightning", "naturalforces/lightningbolt", "thunder thunderclap rumble rumbling storm",
       "thunder rumbles", "lightning strikes with thunder"),
    _c("fireworks", "seasonal/newyears/fireworks", "firework bang bangs exploding explosions",
       "fireworks explode", "fireworks are banging"),
    _c("fire truck", "vehicles/emergency/firetruck", "siren sirens wailing firetruck", "a fire truck's siren wails",
       "a fire truck passes with its siren on"),
)

# stamps with a <stem>.ogg that are not sound sources: the recording is a voice, or the picture makes no sound
DROPPED: dict[str, str] = {
    "animals/insects/xanthia": "a moth: the recording is not a sound a listener would name",
    "food/fruit/apple_red": "the sound is someone biting; an apple is silent",
    "military/final-roll-call": "a spoken roll call",
    "seasonal/christmas/hard_candy": "a crunch the picture does not make",
    "seasonal/christmas/santahat": "a hat makes no sound (bells and voice)",
    "seasonal/halloween/ghost": "not a real source",
    "seasonal/halloween/spider": "a spider makes no audible sound",
    "seasonal/hanukkah/dreydl-*": "spoken rules of the game",
    "space/apollo_lander": "radio speech",
    "symbols/*": "spoken letter, digit and emotion names",
    "town/flags/checkeredflag": "a flag makes no sound (race cars)",
    "town/roadsigns/*": "spoken sign names",
    "vehicles/ship/cartoon/bathyscape": "a fictional vessel; the sound is not one a listener could name",
}


@dataclass(frozen=True)
class Stamp:
    stem: str
    picture: Path
    sound: Path
    description: str
    flip: bool  # Tux Paint's "noflip" marks stamps that must not be mirrored (text, asymmetric objects)


def stamps_dir() -> Path:
    """The installed stamp collection: $ACPO_BENCH_STAMPS, else the usual install locations."""
    env = os.environ.get(ENV_DIR)
    candidates = [Path(env)] if env else [Path(d) for d in SEARCH_DIRS]
    for path in candidates:
        if (path / "animals").is_dir():
            return path
    where = f"{ENV_DIR}={env} does not hold the stamps" if env else f"not found in {', '.join(SEARCH_DIRS)}"
    raise StampsNotInstalled(f"Tux Paint's stamps ({PACKAGE}) are not installed: {where}. Install them with: "
                             f"{install_command()}")


def install_command() -> str:
    if shutil.which("apt-get"):
        return f"sudo apt-get install -y {PACKAGE}"
    if shutil.which("dnf"):
        return "sudo dnf install tuxpaint-stamps"
    if shutil.which("brew"):
        return f"brew install tuxpaint (or download the stamps from tuxpaint.org and set {ENV_DIR}=DIR)"
    return f"install Tux Paint's stamps ({PACKAGE}, from tuxpaint.org) and set {ENV_DIR}=<its stamps directory>"


_ARTICLE = re.compile(r"^(a|an|the)\s+", re.IGNORECASE)


def description_names(description: str) -> list[str]:
    """The names a description gives its stamp: "A baby sheep (a lamb)." -> ["baby sheep", "lamb"]."""
    names = []
    for part in re.split(r"[()]", description.split("!")[0]):
        part = _ARTICLE.sub("", part.strip().rstrip(".").strip())
        if part and len(part.split()) <= 4:
            names.append(part.lower())
    return names


def load_stamp(root: Path, stem: str) -> Stamp:
    base = root / stem
    picture = base.with_suffix(".png") if base.with_suffix(".png").is_file() else base.with_suffix(".svg")
    sound = base.with_suffix(".ogg")
    for path in (picture, sound):
        if not path.is_file():
            raise StampsNotInstalled(f"{path}: missing from the stamp collection at {root} (a different version of "
                                     f"{PACKAGE}?); reinstall it with: {install_command()}")
    text = base.with_suffix(".txt")
    description = text.read_text(encoding="utf-8").splitlines()[0].strip() if text.is_file() else ""
    dat = base.with_suffix(".dat")
    flip = not (dat.is_file() and "noflip" in dat.read_text(encoding="utf-8", errors="replace").split())
    return Stamp(stem, picture, sound, description, flip)


def load_catalog(root: Path | None = None) -> dict[str, tuple[Stamp, ...]]:
    """Every class with its stamps, read from the installation (an error names a missing file)."""
    root = root or stamps_dir()
    return {c.name: tuple(load_stamp(root, stem) for stem in c.stamps) for c in CLASSES}


def synonyms(catalog: dict[str, tuple[Stamp, ...]]) -> dict[str, list[str]]:
    """Per class: its name, every name its stamps' descriptions give, and the words for its sound that no other
    class also uses ("barking" is a dog's, a sea lion's and a zebra's, so it names none of them; "crow" is a
    class, so it is not also the rooster's verb)."""
    by_name = {c.name: c for c in CLASSES}
    names = {name: list(dict.fromkeys([name, *(n for s in stamps for n in description_names(s.description))]))
             for name, stamps in catalog.items()}
    claimed: dict[str, set[str]] = {}
    for name, forms in names.items():
        for form in forms:
            for variant in surface_variants(form):
                claimed.setdefault(variant, set()).add(name)
    for name in catalog:
        for word in by_name[name].sound_words:
            for variant in surface_variants(word):
                claimed.setdefault(variant, set()).add(name)
    out = {}
    for name, forms in names.items():
        words = [w for w in by_name[name].sound_words if all(claimed[v] == {name} for v in surface_variants(w))]
        out[name] = list(dict.fromkeys(forms + words))
    return out


def catalog_digest(catalog: dict[str, tuple[Stamp, ...]]) -> str:
    """The bytes of every picture and recording used: a world names the stamp collection it was built from."""
    digest = hashlib.sha256()
    for name in sorted(catalog):
        for stamp in catalog[name]:
            for path in (stamp.picture, stamp.sound):
                digest.update(stamp.stem.encode() + path.suffix.encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
            digest.update(b"flip" if stamp.flip else b"noflip")
    return digest.hexdigest()
