"""Our stop/function-word list: the closed-class words that carry grammar, not content.

Why our own list: the echo metric (docs/architecture.md, "The observer and the frozen metric") is only as honest as
its definition of "content word", and the ancestors' echo was 84 % function words. This list is written for
Harmonix: modern English function words (articles, pronouns, prepositions, conjunctions, auxiliaries, modals,
determiners, a few discourse adverbs and the common contractions) plus the archaic forms Shakespeare and older
poetry use (thou, thee, hath, doth, 'tis, ere …), because two of our organisms learn from that poetry.

Tokens shorter than three letters are dropped by :func:`content_words` whatever this list says.
"""

from __future__ import annotations

from collections.abc import Iterable

_MODERN = """
a an the this that these those such
i me my mine myself we us our ours ourselves you your yours yourself yourselves
he him his himself she her hers herself it its itself they them their theirs themselves
one ones oneself someone somebody something anyone anybody anything everyone everybody everything
no none nobody nothing
who whom whose which what whatever whoever whichever whomever
am is are was were be been being
do does did done doing
have has had having
will would shall should can could may might must ought
and or but nor so yet for if then than because as while whereas although though unless until till
whether either neither both also too very just only even still already again ever never
not
of in on at by to from with without within into onto upon about above below over under
between among amongst through throughout during before after since against toward towards
across along around behind beyond beside besides near off out up down via per
all any each every few many much more most less least other others another some several
here there where when why how whence hence thus therefore however
now yes yeah oh well
i'm i've i'd i'll you're you've you'd you'll he's he'd he'll she's she'd she'll
it's it'd it'll we're we've we'd we'll they're they've they'd they'll
that's there's here's what's who's where's how's let's
isn't aren't wasn't weren't don't doesn't didn't haven't hasn't hadn't
won't wouldn't shan't shouldn't can't cannot couldn't mustn't mightn't needn't
"""

_ARCHAIC = """
thou thee thy thine ye yon yonder
art hast hath doth dost didst wast wert shalt wilt canst couldst wouldst shouldst mayst
tis twas o'er e'er ne'er ere nay yea whilst unto thereof wherefore whither thither hither
"""

STOPWORDS: frozenset[str] = frozenset((_MODERN + _ARCHAIC).split())

_CONVERSATIONAL = """
tell say speak talk explain elaborate expand describe share continue proceed carry keep going goes
further else next please thanks thank okay sure really know want think mean
"""

CONVERSATIONAL: frozenset[str] = frozenset(_CONVERSATIONAL.split())
"""Content words that steer a conversation without naming what it is about: "Tell me more.", "Continue.", "Keep
going, please.", "What else do you think?". They count as content everywhere else (echo, the pulse, dissonance);
:func:`subject_words` drops them, so that a request to go on is heard as one about the subject already being
talked about, the way a person hears it, not as one about telling or continuing."""

MIN_CONTENT_LETTERS = 3


def is_content_word(token: str) -> bool:
    """True when ``token`` (already lowercase, from :func:`harmonix.text.tokenize`) carries content.

    A content word has at least ``MIN_CONTENT_LETTERS`` (3) characters and is not in :data:`STOPWORDS`.
    """
    return len(token) >= MIN_CONTENT_LETTERS and token not in STOPWORDS


def content_words(tokens: Iterable[str]) -> list[str]:
    """The content tokens of ``tokens``, in order, repeats kept."""
    return [token for token in tokens if is_content_word(token)]


def subject_words(tokens: Iterable[str]) -> list[str]:
    """The content tokens of ``tokens`` that name a subject: :func:`content_words` less :data:`CONVERSATIONAL`."""
    return [token for token in content_words(tokens) if token not in CONVERSATIONAL]
