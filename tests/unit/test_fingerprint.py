"""Transform's up-to-date check sees a change of the job library, shipped as a folder or a zip."""

import zipfile
from pathlib import Path

from etl_lib.steps.transform import files_fingerprint, previous_state, rebuilt_because


def library(root: Path) -> Path:
    (root / "lib/rulesets/tpch").mkdir(parents=True)
    (root / "lib/__init__.py").write_text("")
    (root / "lib/model.py").write_text("GOLD = 1\n")
    (root / "lib/rulesets/tpch/region.dqdl").write_text("Rules = [ RowCount > 0 ]\n")
    return root / "lib"


def zipped(folder: Path, target: Path) -> zipfile.Path:
    with zipfile.ZipFile(target, "w") as archive:  # no folder entries, as `zip -D` and many builds write
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"lib/{path.relative_to(folder)}")
    return zipfile.Path(target) / "lib/"


def test_the_fingerprint_follows_every_file_and_ignores_compiled_caches(tmp_path):
    lib = library(tmp_path)
    before = files_fingerprint(lib)
    (lib / "__pycache__").mkdir()
    (lib / "__pycache__/model.cpython-311.pyc").write_bytes(b"\x00")
    assert files_fingerprint(lib) == before
    (lib / "rulesets/tpch/region.dqdl").write_text("Rules = [ RowCount > 1 ]\n")
    assert files_fingerprint(lib) != before
    (lib / "rulesets/tpch/region.dqdl").write_text("Rules = [ RowCount > 0 ]\n")
    (lib / "rulesets/tpch/nation.dqdl").write_text("")
    assert files_fingerprint(lib) != before


def test_the_library_zipped_for_glue_has_the_fingerprint_of_its_folder(tmp_path):
    lib = library(tmp_path)
    assert files_fingerprint(zipped(lib, tmp_path / "lib.zip")) == files_fingerprint(lib)
    (lib / "model.py").write_text("GOLD = 2\n")
    assert files_fingerprint(zipped(lib, tmp_path / "lib2.zip")) == files_fingerprint(lib)


def test_a_rebuild_without_new_raw_data_names_what_changed():
    before = {"fingerprints": {"raw": "r", "rules": "a", "code": "x"}, "run_id": "r7"}
    rules_changed = {"raw": "r", "rules": "b", "code": "x"}
    assert rebuilt_because(before, rules_changed) == "raw unchanged; the rules changed since run r7"
    assert rebuilt_because(before, {"raw": "r", "rules": "b", "code": "y"}) == (
        "raw unchanged; the rules and the job library changed since run r7"
    )
    assert rebuilt_because(before, {"raw": "s", "rules": "b", "code": "y"}) == ""  # new data: the usual rebuild
    assert rebuilt_because(before, {"raw": "r", "rules": "a", "code": "x"}) == ""  # reprocessed, nothing changed
    assert rebuilt_because({}, {"raw": "r", "rules": "a", "code": "x"}) == ""  # the first run


def test_a_transform_state_left_empty_or_cut_short_is_no_state_so_the_run_rebuilds():
    recorded = '{"fingerprints": {"raw": "r"}, "run_id": "r7"}'
    assert previous_state(recorded) == {"fingerprints": {"raw": "r"}, "run_id": "r7"}
    assert previous_state(None) == previous_state("") == previous_state(recorded[:20]) == previous_state("[]") == {}
