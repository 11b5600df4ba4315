from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("screening", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="listentry",
            name="license_requirement",
            field=models.TextField(blank=True, help_text="Entity List: the entry's licence requirement, as published (e.g. 'For all items subject to the EAR')"),
        ),
        migrations.AddField(
            model_name="listentry",
            name="license_policy",
            field=models.TextField(blank=True, help_text="Entity List: the entry's review policy, as published"),
        ),
    ]
