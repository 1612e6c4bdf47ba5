"""Interactions whose user or item is not in the profiles or the catalog: the spec's policy.

Real logs always hold such rows: guests who check out, accounts deleted or created after the
profile export, products retired from the catalog. Refusing the whole dataset over the first of
them is not what a shop expects, so by default users are kept without profile features (they
train and serve like a cold-start user: age and gender unknown) and rows of unknown items are
dropped (no item to embed, rank or show). `reject` restores the strict check, naming the row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from recsys_workloads.contracts.data_sources import UnknownItems, UnknownUsers
from recsys_workloads.data import schema as s
from recsys_workloads.data.validate import check_known


@dataclass
class UnknownIds:
    """Applies the policy file by file and remembers what it kept and dropped, for the summary."""

    items: pa.Array
    users: pa.Array
    unknown_users: UnknownUsers = "profile-less"
    unknown_items: UnknownItems = "drop"
    dropped_rows: int = 0
    dropped_items: set[str] = field(default_factory=set)
    profile_less: set[str] = field(default_factory=set)

    def apply(
        self, table: pa.Table, file: str, item_column: str = s.ITEM_ID, user_column: str = s.USER_ID
    ) -> pa.Table:
        """`table` (canonical columns) under the policy; `*_column` name the source's columns in errors."""
        item_ids, user_ids = table[s.ITEM_ID], table[s.USER_ID]
        if self.unknown_items == "reject":
            check_known(item_ids, self.items, file, item_column, "item")
        item_known = pc.is_in(item_ids, value_set=self.items)
        user_known = pc.or_(pc.is_in(user_ids, value_set=self.users), pc.is_null(user_ids))
        if self.unknown_users == "reject":
            # Rows dropped for their item are not judged by their user.
            check_known(user_ids, self.users, file, user_column, "user", among=item_known)
        dropped = len(table) - int(pc.sum(item_known).as_py() or 0)
        if dropped:
            self.dropped_rows += dropped
            self.dropped_items.update(_distinct(table[s.ITEM_ID].filter(pc.invert(item_known))))
            table, user_known = table.filter(item_known), user_known.filter(item_known)
        if self.unknown_users == "profile-less" and not pc.all(user_known).as_py():
            self.profile_less.update(_distinct(table[s.USER_ID].filter(pc.invert(user_known))))
        return table

    def users_table(self, users: pa.Table) -> pa.Table:
        """`users` plus a row without profile features for each profile-less user (sorted ids)."""
        if not self.profile_less:
            return users
        ids = sorted(self.profile_less)
        extra = pa.table(
            {
                f.name: pa.array(ids, f.type) if f.name == s.USER_ID else pa.nulls(len(ids), f.type)
                for f in users.schema
            },
            schema=users.schema,
        )
        return pa.concat_tables([users, extra])

    def counts(self) -> dict[str, int]:
        """What the policy did, as the summary, the dataset manifest and the run's metrics say it."""
        return {
            "profile_less_users": len(self.profile_less),
            "dropped_interactions": self.dropped_rows,
            "unknown_items": len(self.dropped_items),
        }


def _distinct(column: pa.Array | pa.ChunkedArray) -> list[str]:
    return [str(v) for v in pc.unique(pc.cast(column, pa.string())).to_pylist() if v is not None]
