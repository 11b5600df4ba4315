import pytest
from django.core.management import CommandError, call_command

from inventory.models import Declaration

pytestmark = pytest.mark.django_db


def write(tmp_path, text, name="decl.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def test_imports_rows_and_updates_on_reimport(tmp_path, cluster):
    org, site = cluster.operator, cluster.site
    path = write(tmp_path, "gpu_uuid,serial,licensed_end_user,site,license_number\n"
                           f"GPU-1,,{org.name},{site.name},D123\n"
                           f",1650000001,{org.name},{site.name},\n")
    call_command("import_declarations", str(path))
    assert Declaration.objects.count() == 2
    path = write(tmp_path, "gpu_uuid,licensed_end_user,site,license_number\n"
                           f"GPU-1,{org.name},{site.name},D999\n")
    call_command("import_declarations", str(path))
    assert Declaration.objects.get(gpu_uuid="GPU-1").license_number == "D999"
    assert Declaration.objects.count() == 2


@pytest.mark.parametrize("content, message", [
    ("gpu_uuid,licensed_end_user,site\nGPU-1,Nobody Inc,SG-1\n", "line 2: unknown organization 'Nobody Inc'"),
    ("gpu_uuid,licensed_end_user,site\nGPU-1,Acme Compute SG,Mars\n", "line 2: unknown site 'Mars'"),
    ("gpu_uuid,licensed_end_user,site\n,Acme Compute SG,SG-1\n", "line 2: needs a gpu_uuid or a serial"),
    ("uuid,who\nGPU-1,x\n", "header must have"),
    ("gpu_uuid,licensed_end_user,site\nGPU-1,Acme Compute SG,SG-1\nGPU-1,Acme Compute SG,SG-1\n",
     "line 3: GPU-1 is declared twice"),
    (b"gpu_uuid,licensed_end_user,site\n\xff\xfe,x,y\n", "not UTF-8"),
])
def test_bad_files_fail_naming_the_problem_and_write_nothing(tmp_path, cluster, content, message):
    path = write(tmp_path, content)
    with pytest.raises(CommandError, match=message):
        call_command("import_declarations", str(path))
    assert Declaration.objects.count() == 0


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("import_declarations", str(tmp_path / "nope.csv"))


def test_a_site_name_two_organizations_use_is_refused(tmp_path, cluster):
    from inventory.models import Site

    Site.objects.create(name="SG-1", organization=cluster.operator.parent, country="SG")
    path = write(tmp_path, "gpu_uuid,licensed_end_user,site\nGPU-1,Acme Compute SG,SG-1\n")
    with pytest.raises(CommandError, match="line 2: site name 'SG-1' is used by 2"):
        call_command("import_declarations", str(path))
    assert Declaration.objects.count() == 0
