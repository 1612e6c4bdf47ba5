"""The one home of column names, vocabularies and Arrow schemas of the data plane.

Every other module (generator, ingestion, validation, stats, later training) names
columns through these constants, so a rename is one edit and a typo is an import error.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from recsys_workloads import vocab

# --- columns -----------------------------------------------------------------------
USER_ID: Final = "user_id"
ANONYMOUS_ID: Final = "anonymous_id"
SESSION_ID: Final = "session_id"
ITEM_ID: Final = "item_id"
TIMESTAMP: Final = "timestamp"
DEVICE_TYPE: Final = "device_type"
EVENT_TYPE: Final = "event_type"
CLICKED: Final = "clicked"
DISCOUNT: Final = "discount"
DAY: Final = "day"

NAME: Final = "name"
CATEGORY_L1: Final = "category_l1"
CATEGORY_L2: Final = "category_l2"
PRICE: Final = "price"
ITEM_GENDER: Final = "item_gender"
PROMOTED: Final = "promoted"
FIRST_DAY: Final = "first_day"
PRODUCT_DESCRIPTION: Final = "product_description"

AGE: Final = "age"
GENDER: Final = "gender"
PERSONA: Final = "persona"
DISCOUNT_PERSONA: Final = "discount_persona"


class EventType(StrEnum):
    """Retail Demo Store event names, plus `Impression` for shown-but-not-clicked rows."""

    VIEW = "View"
    ADD_TO_CART = "AddToCart"
    VIEW_CART = "ViewCart"
    START_CHECKOUT = "StartCheckout"
    PURCHASE = "Purchase"
    IMPRESSION = "Impression"


class DeviceType(StrEnum):
    """Order and spelling come from `recsys_workloads.vocab` (serving reads them without pyarrow)."""

    WEB = vocab.DEVICE_TYPES[0]
    IOS = vocab.DEVICE_TYPES[1]
    ANDROID = vocab.DEVICE_TYPES[2]


class Gender(StrEnum):
    MALE = "M"
    FEMALE = "F"


ITEM_GENDERS: Final = ("M", "F", "Any")
# Order is the integer code the generator uses internally; never reorder.
EVENT_TYPES: Final[tuple[str, ...]] = tuple(e.value for e in EventType)
INTERACTION_TYPES: Final[tuple[str, ...]] = tuple(e.value for e in EventType if e is not EventType.IMPRESSION)
DEVICE_TYPES: Final[tuple[str, ...]] = vocab.DEVICE_TYPES

SECONDS_PER_DAY: Final = 86_400
# Anything outside this window is a unit mistake (milliseconds) or garbage.
MIN_TIMESTAMP: Final = 946_684_800  # 2000-01-01T00:00:00Z
MAX_TIMESTAMP: Final = 4_102_444_800  # 2100-01-01T00:00:00Z

ANONYMOUS_PREFIX: Final = vocab.ANONYMOUS_PREFIX

# --- Arrow schemas --------------------------------------------------------------------
# Ids and small vocabularies are dictionary-encoded: 13M rows of repeated strings cost
# little on disk and in memory, and pandas reads them as categoricals.
DICT_STRING: Final = pa.dictionary(pa.int32(), pa.string())

INTERACTIONS_SCHEMA: Final = pa.schema(
    [
        pa.field(USER_ID, DICT_STRING, nullable=True),  # null: anonymous visitor
        pa.field(ANONYMOUS_ID, DICT_STRING, nullable=True),  # set only for anonymous visitors
        pa.field(SESSION_ID, pa.int64(), nullable=True),  # null: source has no sessions (RDS CSV)
        pa.field(ITEM_ID, DICT_STRING, nullable=False),
        pa.field(TIMESTAMP, pa.int64(), nullable=False),  # unix seconds, UTC
        pa.field(DEVICE_TYPE, DICT_STRING, nullable=True),  # null: unknown (RDS CSV)
        pa.field(EVENT_TYPE, DICT_STRING, nullable=False),
        pa.field(CLICKED, pa.bool_(), nullable=False),  # false only for Impression rows
        pa.field(DISCOUNT, pa.bool_(), nullable=True),
    ]
)

ITEMS_SCHEMA: Final = pa.schema(
    [
        pa.field(ITEM_ID, pa.string(), nullable=False),
        pa.field(NAME, pa.string(), nullable=True),
        pa.field(CATEGORY_L1, pa.string(), nullable=False),
        pa.field(CATEGORY_L2, pa.string(), nullable=False),
        pa.field(PRICE, pa.float64(), nullable=False),
        pa.field(ITEM_GENDER, pa.string(), nullable=False),  # M, F or Any
        pa.field(PROMOTED, pa.bool_(), nullable=False),
        pa.field(FIRST_DAY, pa.int16(), nullable=False),  # first day the item can be shown
    ]
)

USERS_SCHEMA: Final = pa.schema(
    [
        pa.field(USER_ID, pa.string(), nullable=False),
        pa.field(AGE, pa.int16(), nullable=True),
        pa.field(GENDER, pa.string(), nullable=True),
        pa.field(FIRST_DAY, pa.int16(), nullable=True),  # sign-up day; null when unknown
    ]
)

# The canonical users table also carries what RDS publishes about a user.
CANONICAL_USERS_SCHEMA: Final = USERS_SCHEMA.append(pa.field(PERSONA, pa.string(), nullable=True)).append(
    pa.field(DISCOUNT_PERSONA, pa.string(), nullable=True)
)

DESCRIPTIONS_SCHEMA: Final = pa.schema(
    [
        pa.field(ITEM_ID, pa.string(), nullable=False),
        pa.field(PRODUCT_DESCRIPTION, pa.string(), nullable=True),
    ]
)

# Columns the seed's layout must have; the rest of each schema is optional on input.
REQUIRED_INTERACTION_COLUMNS: Final = (USER_ID, ITEM_ID, TIMESTAMP, DEVICE_TYPE, EVENT_TYPE)
REQUIRED_ITEM_COLUMNS: Final = (ITEM_ID, CATEGORY_L1, CATEGORY_L2, PRICE, ITEM_GENDER)
REQUIRED_USER_COLUMNS: Final = (USER_ID, AGE, GENDER)
REQUIRED_DESCRIPTION_COLUMNS: Final = (ITEM_ID, PRODUCT_DESCRIPTION)

# --- file layout ----------------------------------------------------------------------
ITEMS_FILE: Final = "items.parquet"
USERS_FILE: Final = "users.parquet"
DESCRIPTIONS_FILE: Final = "item_descriptions.parquet"
IMAGES_DIR: Final = "images"
GROUND_TRUTH_DIR: Final = "ground_truth"
INTERACTIONS_DIR: Final = "interactions"  # canonical dataset: interactions/day=NN/part-0.parquet
MANIFEST_FILE: Final = "manifest.json"


def day_file_name(day: int) -> str:
    return f"day_{day:02d}.parquet"


def day_partition_name(day: int) -> str:
    return f"{DAY}={day:02d}"


DAY_PARTITIONING_SCHEMA: Final = pa.schema([pa.field(DAY, pa.int16())])


# --- external records (Retail Demo Store layout) ------------------------------------------
class RdsProduct(BaseModel):
    """One product of RDS `products.yaml`; unknown keys (stock, links) are ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: StrictStr = Field(min_length=1)
    name: StrictStr = Field(min_length=1)
    category: StrictStr = Field(min_length=1)
    style: StrictStr = Field(min_length=1)
    description: str = ""
    price: float = Field(gt=0)
    image: str | None = None
    gender_affinity: Literal["M", "F"] | None = None
    promoted: bool = False


class RdsUser(BaseModel):
    """One user of RDS `users.json[.gz]`; addresses, names and platforms are ignored."""

    model_config = ConfigDict(extra="ignore")

    id: StrictStr | int
    gender: Literal["M", "F"] | None = None
    age: int | None = Field(default=None, ge=0, le=130)
    persona: str | None = None
    discount_persona: str | None = None
