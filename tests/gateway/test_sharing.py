"""[serve] delivery_group: the LGWAN side's pickup folders (and nothing else) readable by one group."""

from __future__ import annotations

import grp
import os
import stat
from pathlib import Path

import pytest

from gateway.config import Settings, with_serve_flags
from gateway.delivery.transports import DirectoryTransport
from gateway.errors import ConfigError
from gateway.sharing import share_deliveries
from gateway.startup import make_private

GROUP = "nogroup" if any(g.gr_name == "nogroup" for g in grp.getgrall()) else "users"
GID = grp.getgrnam(GROUP).gr_gid


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_a_group_that_does_not_exist_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="--delivery-group: this host has no group 'no-such-group-here'"):
        with_serve_flags(Settings(), {"delivery_group": "no-such-group-here"})
    assert with_serve_flags(Settings(), {"delivery_group": GROUP}).serve.delivery_group == GROUP


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another group needs root or membership")
def test_delivered_mail_is_readable_by_the_group_and_nothing_else_is(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        data = tmp_path / "data"
        for folder in ("spool/incoming", "quarantine", "lgwan-files/総務/0123/0"):
            (data / folder).mkdir(parents=True, mode=0o700)
        (data / "quarantine" / "original").write_bytes(b"original")
        (data / "lgwan-files" / "総務" / "0123" / "0" / "見積書.docx").write_bytes(b"PK")
        shared = (data / "lgwan", data / "lgwan-files")
        make_private(data, shared)
        share_deliveries(data, GID)
        transport = DirectoryTransport(data / "lgwan", GID)
        transport.deliver("0456", "a@example.jp", ["soumu@city.example.lg.jp"],
                          "Subject: x\r\n\r\n本文\r\n".encode())
    finally:
        os.umask(old)
    delivered = data / "lgwan" / "0456.eml"
    assert (mode(delivered), os.lstat(delivered).st_gid) == (0o640, GID)
    assert (mode(data / "lgwan"), os.lstat(data / "lgwan").st_gid) == (0o2750, GID)
    earlier = data / "lgwan-files" / "総務" / "0123" / "0" / "見積書.docx"
    assert (mode(earlier), os.lstat(earlier).st_gid) == (0o640, GID)  # what was there before the start too
    assert (mode(data), os.lstat(data).st_gid) == (0o710, GID)  # the group passes through, cannot list
    assert mode(data / "quarantine") == 0o700 and mode(data / "quarantine" / "original") == 0o600
    assert mode(data / "spool" / "incoming") == 0o700
    assert make_private(data, shared) == 0  # the next start leaves the shared folders as they are


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another group needs root or membership")
def test_disarmed_uploads_reach_the_pickup_folder_readable_by_the_group(tmp_path: Path) -> None:
    from gateway.config import ServeSettings
    from gateway.pipeline.uploads import UploadWorker
    from gateway.stop_signal import StopSignal

    settings = Settings(serve=ServeSettings(data_dir=str(tmp_path / "data"), recipient_domains="example.lg.jp",
                                            delivery_group=GROUP))
    worker = UploadWorker(settings, StopSignal())
    outputs = tmp_path / "outputs"
    (outputs / "0").mkdir(parents=True)
    (outputs / "0" / "見積書.docx").write_bytes(b"PK")
    old = os.umask(0o077)
    try:
        worker.deliver_files("0789", "総務課", outputs, [{"outputs": [{"stored": "0/見積書.docx"}]}])
    finally:
        os.umask(old)
        worker.close()
    lgwan_files = tmp_path / "data" / "lgwan-files"
    folder = lgwan_files / "総務課"
    for path in (lgwan_files, folder, folder / "0789", folder / "0789" / "0"):
        assert (mode(path), os.lstat(path).st_gid) == (0o2750, GID), path
    delivered = lgwan_files / "総務課" / "0789" / "0" / "見積書.docx"
    assert (mode(delivered), os.lstat(delivered).st_gid) == (0o640, GID)
