"""ArchivedPartition (what retention exported), and GpuSample turned into a table partitioned by
month on collected_at (PostgreSQL only; on SQLite this migration only creates ArchivedPartition).

Works on a populated table: the rows are copied into the partitioned table in the migration's
transaction (the table is locked meanwhile: about a minute per ~10 M rows, docs/storage.md).
The primary key becomes (id, collected_at), since PostgreSQL requires every unique key of a
partitioned table to contain the partition key; ids still come from one sequence.
"""
from datetime import datetime, timezone

from django.db import migrations, models

from inventory import partitions

# Months of existing rows that get their own partition; rows dated outside (a clock off by
# decades) go to DEFAULT rather than creating hundreds of partitions.
_EXISTING_MONTHS_BACK = 120


def gpusample_partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    now = datetime.now(timezone.utc)
    parent, legacy = partitions.PARENT, f"{partitions.PARENT}_unpartitioned"
    with schema_editor.connection.cursor() as cursor:
        if partitions.is_partitioned(cursor):
            return
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s"
                       " AND indexname <> %s", [parent, f"{parent}_pkey"])
        index_defs = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                       " WHERE conrelid = to_regclass(%s) AND contype IN ('f', 'c')", [parent])
        constraint_defs = cursor.fetchall()
        cursor.execute(f'ALTER TABLE "{parent}" RENAME TO "{legacy}"')
        cursor.execute(f'CREATE TABLE "{parent}" (LIKE "{legacy}" INCLUDING DEFAULTS)'
                       f' PARTITION BY RANGE ("{partitions.KEY}")')
        cursor.execute(f'CREATE TABLE "{partitions.DEFAULT}" PARTITION OF "{parent}" DEFAULT')
        first = partitions.add_months(partitions.month_start(now), -_EXISTING_MONTHS_BACK)
        ahead = partitions.add_months(partitions.month_start(now), partitions.MONTHS_AHEAD + 1)
        cursor.execute(f"SELECT DISTINCT date_trunc('month', \"{partitions.KEY}\" AT TIME ZONE 'UTC')"
                       f' FROM "{legacy}" WHERE "{partitions.KEY}" >= %s AND "{partitions.KEY}" < %s', [first, ahead])
        months = {month.replace(tzinfo=timezone.utc) for (month,) in cursor.fetchall()}
        months |= {partitions.add_months(partitions.month_start(now), n) for n in range(partitions.MONTHS_AHEAD + 1)}
        for month in sorted(months):
            partitions.month_create(cursor, month)
        cursor.execute(f'INSERT INTO "{parent}" SELECT * FROM "{legacy}"')
        cursor.execute(f'SELECT coalesce(max(id), 0) FROM "{legacy}"')
        last_id = cursor.fetchone()[0]
        cursor.execute(f'DROP TABLE "{legacy}"')  # frees its index, constraint and sequence names
        sequence = f"{parent}_id_seq"
        cursor.execute(f'CREATE SEQUENCE "{sequence}" OWNED BY "{parent}".id')
        cursor.execute("SELECT setval(%s, %s, %s)", [sequence, max(last_id, 1), last_id > 0])
        cursor.execute(f'ALTER TABLE "{parent}" ALTER COLUMN id SET DEFAULT nextval(%s::regclass)', [sequence])
        cursor.execute(f'ALTER TABLE "{parent}" ADD CONSTRAINT "{parent}_pkey" PRIMARY KEY (id, "{partitions.KEY}")')
        for index_def in index_defs:
            cursor.execute(index_def)
        for name, definition in constraint_defs:
            cursor.execute(f'ALTER TABLE "{parent}" ADD CONSTRAINT "{name}" {definition}')
        cursor.execute(f'CREATE INDEX "{partitions.BRIN_INDEX}" ON "{parent}" USING brin ("{partitions.KEY}")')
        cursor.execute(f'ANALYZE "{parent}"')


class Migration(migrations.Migration):

    dependencies = [
        ('inventory', '0002_tenant_integrity'),
    ]

    operations = [
        migrations.CreateModel(
            name='ArchivedPartition',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('table', models.CharField(help_text='The partitioned table, e.g. inventory_gpusample', max_length=63)),
                ('partition', models.CharField(help_text="The detached partition's table name", max_length=63)),
                ('range_start', models.DateTimeField(help_text='First instant the partition held (inclusive)')),
                ('range_end', models.DateTimeField(help_text='End of its range (exclusive)')),
                ('rows', models.BigIntegerField()),
                ('file_name', models.CharField(help_text="The gzip'd CSV (COPY … WITH HEADER) it was exported to", max_length=255)),
                ('file_bytes', models.BigIntegerField()),
                ('sha256', models.CharField(help_text='SHA-256 of the compressed file', max_length=64)),
                ('dropped', models.BooleanField(help_text='False: the detached table is still in the database')),
                ('archived_at', models.DateTimeField()),
            ],
            options={
                'ordering': ['table', 'range_start'],
            },
        ),
        # Not reversible: turning the partitions back into one table is a copy an operator should plan.
        migrations.RunPython(gpusample_partition, elidable=False),
    ]
