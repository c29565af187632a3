"""publication: keep DataBankList and text-mention NCT ids apart

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 06:40:00

Revision 0001 stored one merged ``nct_ids`` list per paper, so a paper read back from the store (to link it to a
trial tracked after the paper was first seen) claimed a DataBankList link for a trial it only named in its text.
The two lists are now stored apart. Existing rows are split with the text rule the parser used when they were
stored (an NCT number in the title or abstract is a text mention); an id a paper named both ways is kept as a text
mention only, the weaker claim.
"""
import json
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# frozen copy of the parser's text rule at the time of this revision (monitor.sources.pubmed_xml.NCT_IN_TEXT)
NCT_IN_TEXT = re.compile(r"\bNCT\s?0?(\d{8})(?!\d)", re.IGNORECASE)

publication = sa.table(
    'publication',
    sa.column('pmid', sa.String),
    sa.column('title', sa.Text),
    sa.column('abstract', sa.Text),
    sa.column('nct_ids', sa.JSON),
    sa.column('databank_nct_ids', sa.JSON),
    sa.column('text_nct_ids', sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.add_column(sa.Column('databank_nct_ids', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('text_nct_ids', sa.JSON(), nullable=False, server_default='[]'))
    conn = op.get_bind()
    rows = conn.execute(sa.select(publication.c.pmid, publication.c.title, publication.c.abstract,
                                  publication.c.nct_ids)).all()
    for pmid, title, abstract, nct_ids in rows:
        in_text = dict.fromkeys(f"NCT{m.group(1)}" for m in NCT_IN_TEXT.finditer(f"{title}\n{abstract}"))
        merged = list(nct_ids if isinstance(nct_ids, list) else json.loads(nct_ids or "[]"))
        conn.execute(
            publication.update().where(publication.c.pmid == pmid).values(
                databank_nct_ids=[n for n in merged if n not in in_text],
                text_nct_ids=[n for n in merged if n in in_text],
            )
        )
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.drop_column('nct_ids')


def downgrade() -> None:
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.add_column(sa.Column('nct_ids', sa.JSON(), nullable=False, server_default='[]'))
    conn = op.get_bind()
    rows = conn.execute(sa.select(publication.c.pmid, publication.c.databank_nct_ids,
                                  publication.c.text_nct_ids)).all()
    for pmid, databank, text in rows:
        conn.execute(publication.update().where(publication.c.pmid == pmid).values(
            nct_ids=list(dict.fromkeys([*(databank or []), *(text or [])]))))
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.drop_column('text_nct_ids')
        batch_op.drop_column('databank_nct_ids')
