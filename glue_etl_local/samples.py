"""Sample landing data: TPC-H through tpchgen-cli, and a consultations feed with dirty rows.

The consultations generator is deterministic for a seed and reports what it injected, so
tests can compare the pipeline's quarantine counts with an independent expectation.
"""

from __future__ import annotations

import csv
import random
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

SPECIALTIES = ("generaliste", "pediatrie", "cardiologie", "dermatologie", "gynecologie", "psychiatrie")
DIAGNOSES = (
    "hypertension arterielle",
    "diabete de type 2",
    "rhinopharyngite",
    "lombalgie",
    "asthme",
    "eczema",
    "otite moyenne",
    "anxiete generalisee",
    "bronchite aigue",
    "migraine",
)
FULL_HEADER = (
    "id_consultation",
    "date_consultation",
    "id_centre",
    "id_patient",
    "patient_age",
    "sexe",
    "specialite",
    "diagnostic",
    "duree_minutes",
    "montant",
)
# The second delivery omits `sexe` and orders columns differently: the jobs match by name.
SHORT_HEADER = (
    "date_consultation",
    "id_consultation",
    "id_centre",
    "id_patient",
    "specialite",
    "patient_age",
    "diagnostic",
    "duree_minutes",
    "montant",
)

AGE_RULE = (
    '((ColumnValues "patient_age" >= 0) and (ColumnValues "patient_age" <= 120)) or (ColumnValues "patient_age" = NULL)'
)
# defect name -> the quarantine rule the pipeline must report for it (extract's typing checks, or
# the DQDL text of the consultations ruleset's rule)
DEFECT_RULES = {
    "missing_diagnostic": 'ColumnValues "diagnostic" not in [NULL,EMPTY,WHITESPACES_ONLY]',
    "blank_diagnostic": 'ColumnValues "diagnostic" not in [NULL,EMPTY,WHITESPACES_ONLY]',
    "bad_date": "parse:date_consultation",
    "bad_age": "parse:patient_age",
    "age_out_of_range": AGE_RULE,
    "duplicate_id": 'IsPrimaryKey "consultation_id"',
    "extra_field": "malformed_record",
}


@dataclass
class ConsultationsSample:
    files: list[Path]
    rows: int = 0
    defects: dict[str, int] = field(default_factory=dict)

    @property
    def clean_rows(self) -> int:
        return self.rows - sum(self.defects.values())

    def expected_quarantine_by_rule(self) -> dict[str, int]:
        expected: dict[str, int] = {}
        for defect, count in self.defects.items():
            if count:
                rule = DEFECT_RULES[defect]
                expected[rule] = expected.get(rule, 0) + count
        return expected


def _clean_row(rng: random.Random, consultation_id: int, start: date) -> dict[str, str]:
    age = rng.choice([rng.randint(0, 11), rng.randint(12, 17), rng.randint(18, 64), rng.randint(65, 99)])
    specialty = "pediatrie" if age < 12 and rng.random() < 0.7 else rng.choice(SPECIALTIES)
    diagnosis = rng.choice(DIAGNOSES)
    if rng.random() < 0.05:
        diagnosis = f"{diagnosis}, suivi"  # commas inside a quoted field are valid CSV
    return {
        "id_consultation": str(consultation_id),
        "date_consultation": (start + timedelta(days=rng.randint(0, 364))).isoformat(),
        "id_centre": f"C{rng.randint(1, 12):03d}",
        "id_patient": f"P{rng.randint(1, 5000):05d}",
        "patient_age": str(age),
        "sexe": rng.choice("FM"),
        "specialite": specialty,
        "diagnostic": diagnosis,
        "duree_minutes": str(rng.choice([15, 20, 30, 45, 60])),
        "montant": f"{rng.choice([25, 30, 50, 60, 80]):.2f}",
    }


def _inject(rng: random.Random, row: dict[str, str], defect: str) -> dict[str, str]:
    if defect == "missing_diagnostic":
        row["diagnostic"] = ""
    elif defect == "blank_diagnostic":
        row["diagnostic"] = "   "
    elif defect == "bad_date":
        row["date_consultation"] = rng.choice(["2024-02-30", "31/12/2024", "hier"])
    elif defect == "bad_age":
        row["patient_age"] = rng.choice(["quarante", "4O", "?"])
    elif defect == "age_out_of_range":
        row["patient_age"] = rng.choice(["150", "-3"])
    return row


def generate_consultations(
    output: Path,
    rows: int = 2000,
    files: int = 2,
    seed: int = 7,
    defect_rate: float = 0.02,
    start_year: int = 2024,
    first_id: int = 1,
) -> ConsultationsSample:
    """Writes `files` CSV files (the second one with a short, reordered header) into output."""
    rng = random.Random(seed)
    output.mkdir(parents=True, exist_ok=True)
    sample = ConsultationsSample(files=[], defects=dict.fromkeys(DEFECT_RULES, 0))
    per_file = max(1, rows // files)
    next_id = first_id
    written_ids: list[int] = []
    start = date(start_year, 1, 1)
    for index in range(files):
        header = FULL_HEADER if index % 2 == 0 else SHORT_HEADER
        path = output / f"consultations_{start_year}_{index + 1:02d}.csv"
        count = per_file if index < files - 1 else rows - per_file * (files - 1)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for _ in range(count):
                row = _clean_row(rng, next_id, start)
                defect = rng.choice(list(DEFECT_RULES)) if rng.random() < defect_rate * len(DEFECT_RULES) else None
                if defect == "duplicate_id" and written_ids:
                    # A conflicting record that reuses an existing id: one of the two is kept.
                    row["id_consultation"] = str(rng.choice(written_ids))
                elif defect == "duplicate_id":
                    defect = None
                if defect not in (None, "duplicate_id", "extra_field"):
                    row = _inject(rng, row, defect)
                values = [row[name] for name in header]
                if defect == "extra_field":
                    values.append("valeur en trop")
                writer.writerow(values)
                if defect:
                    sample.defects[defect] += 1
                else:
                    written_ids.append(next_id)
                next_id += 1
                sample.rows += 1
        sample.files.append(path)
    return sample


def tpchgen_executable() -> str:
    candidate = Path(sys.executable).with_name("tpchgen-cli")
    found = str(candidate) if candidate.exists() else shutil.which("tpchgen-cli")
    if not found:
        raise RuntimeError("tpchgen-cli is not installed: run `make setup` (it is a dev dependency)")
    return found


def generate_tpch(output: Path, scale_factor: float, parts: int | None = None) -> list[Path]:
    output.mkdir(parents=True, exist_ok=True)
    command = [tpchgen_executable(), "csv", "-s", str(scale_factor), "-o", str(output), "--overwrite"]
    if parts:
        command += ["--parts", str(parts)]
    subprocess.run(command, check=True)
    return sorted(output.rglob("*.csv"))
