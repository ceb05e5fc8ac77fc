"""Human-readable dates in many languages and formats, paired with ISO dates.

The data of the date translator (`rnnx demo`): random dates drawn with
`faker`, written with `babel` in twelve locales and a dozen formats
("25 juin 2009", "Tuesday, March 3, 1998", "3/7/21", "07.03.21", ...), each
paired with its ISO form "YYYY-MM-DD".

Every string the generator can produce means exactly one date (checked by
`tests/test_seq2seq.py`): numeric forms follow one convention per shape.
Slashes with a two-digit year are month-first, as en_US writes them
("3/7/21" is 2021-03-07); every other numeric form with the year last is
day-first ("07/03/2021", "07.03.21", "7-3-2021"); a four-digit year may come
first ("2021-03-07"). The short forms of es_ES, it_IT and id_ID ("7/3/21",
"07/03/21") would contradict en_US' and are left out. Two-digit years resolve
within 1950-2049, the range dates are drawn from.

Deterministic under a seed; a share of the calendar days is held out, so the
test set asks for dates the model never saw in training.
"""
import datetime
import random

FIRST_DATE = datetime.date(1950, 1, 1)
LAST_DATE = datetime.date(2049, 12, 31)

LOCALES = (
    "en_US", "en_GB", "fr_FR", "de_DE", "es_ES", "it_IT",
    "pt_BR", "nl_NL", "sv_SE", "pl_PL", "tr_TR", "id_ID",
)

# babel's named formats, used in every locale but "short" (see above)
NAMED_FORMATS = ("short", "medium", "long", "full")
NO_SHORT = ("es_ES", "it_IT", "id_ID")

# CLDR patterns used in every locale
PATTERNS = (
    "d MMM y",
    "d MMMM y",
    "EEEE d MMMM y",
    "EEE, d MMM y",
    "MMMM d, y",
    "dd.MM.y",
    "d.M.y",
    "dd/MM/y",
    "y-MM-dd",
)

# patterns used in one locale only
LOCALE_PATTERNS = {"en_US": ("MM/dd/yy",), "nl_NL": ("d-M-y",)}


def formats_for(locale):
    """The (format) list used for `locale`: named formats then patterns."""
    named = tuple(f for f in NAMED_FORMATS if not (locale in NO_SHORT and f == "short"))
    return named + PATTERNS + LOCALE_PATTERNS.get(locale, ())


def format_date(date, locale, fmt):
    """`date` written by babel in `locale` with a named format or pattern."""
    from babel.dates import format_date as _babel_format

    return _babel_format(date, fmt, locale=locale)


def iso(date):
    """'YYYY-MM-DD'."""
    return date.isoformat()


def _held_out_days(seed, test_fraction):
    """The set of day ordinals reserved for the test split."""
    first, last = FIRST_DATE.toordinal(), LAST_DATE.toordinal()
    days = list(range(first, last + 1))
    random.Random(f"held-out-{seed}").shuffle(days)
    return set(days[: int(round(test_fraction * len(days)))])


def generate(n, seed=0, split="train", test_fraction=0.1, locales=LOCALES):
    """`n` pairs (human-readable date, ISO date), deterministic in `seed`.

    Args:
        n: number of pairs.
        seed: int; the same seed gives the same pairs.
        split: "train" draws from days not held out, "test" only from the
            held-out days (a `test_fraction` share of 1950-2049).
        test_fraction: share of calendar days held out for "test".
        locales: locales to write dates in (default: all twelve).
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"generate: `n` must be a non-negative int, got {n!r}")
    if split not in ("train", "test"):
        raise ValueError(f"generate: `split` must be 'train' or 'test', got {split!r}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(
            f"generate: `test_fraction` must be in (0, 1), got {test_fraction!r}"
        )
    unknown = [loc for loc in locales if loc not in LOCALES]
    if unknown or not locales:
        raise ValueError(
            f"generate: `locales` must be a non-empty subset of {LOCALES}, "
            f"got unknown {unknown}"
        )
    from faker import Faker

    held_out = _held_out_days(seed, test_fraction)
    want_held = split == "test"
    fake = Faker()
    fake.seed_instance(f"{seed}-{split}")
    rng = random.Random(f"{seed}-{split}-formats")
    pairs = []
    while len(pairs) < n:
        day = fake.date_between_dates(date_start=FIRST_DATE, date_end=LAST_DATE)
        if (day.toordinal() in held_out) != want_held:
            continue
        locale = rng.choice(locales)
        fmt = rng.choice(formats_for(locale))
        pairs.append((format_date(day, locale, fmt), iso(day)))
    return pairs


TARGET_CHARS = "0123456789-"
