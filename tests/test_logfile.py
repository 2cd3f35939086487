"""The log of a long run goes to files that rotate."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

from v2gkit.logfile import log_to_file
from v2gkit.testsys.abuse import SeccProcess, car_session


def test_log_rotates_and_keeps_a_few_files(tmp_path: Path) -> None:
    path = tmp_path / "secc.log"
    handler = log_to_file(path, max_bytes=2000, backups=2, logger="v2gkit.test_logfile")
    try:
        log = logging.getLogger("v2gkit.test_logfile")
        for i in range(200):
            log.info("line %d of a long run", i)
    finally:
        logging.getLogger("v2gkit.test_logfile").removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["secc.log", "secc.log.1", "secc.log.2"]
    assert all((tmp_path / f).stat().st_size <= 2000 for f in files)
    assert "line 199 of a long run" in path.read_text()


def test_secc_log_file(tmp_path: Path) -> None:
    log = tmp_path / "secc.log"
    secc = SeccProcess(15785, ("--log-file", str(log))).start()
    try:
        car = asyncio.run(car_session(secc.sdp_port))
    finally:
        secc.cleanup()
    assert car.ok
    text = log.read_text()
    assert "INFO v2gkit.link: listening" in text and "INFO v2gkit.link: negotiated" in text
    r = subprocess.run([sys.executable, "-m", "v2gkit.cli.main", "secc", "--loopback", "--log-file",
                        str(tmp_path / "no-such-dir" / "secc.log")], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and r.stderr.startswith("error: cannot write the log file: [Errno 2] No such file")
