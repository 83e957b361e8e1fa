"""Content credentials (C2PA): Save nodes sign takes with the user's certificate when asked,
and c2pa's own reader finds the AI-generated mark, the models and the workflow's hash."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np
import pytest
from stage_helpers import run_node

from nodes.io.images import SAVE_IMAGE
from nodes.io.save_video import SAVE_VIDEO
from studio.engine.testing import FakeRunContext
from studio.graph.spec import NodeError
from studio.graph.types import Video
from studio.takes.credentials import read_credentials, workflow_hash

pytest.importorskip("c2pa")
x509 = pytest.importorskip("cryptography.x509")

WORKFLOW = json.dumps(
    {
        "format_version": 2,
        "nodes": {"a": {"type": "ImageToVideo", "title": "Animate", "params": {"model": ""}}},
        "edges": [],
    }
)


def throwaway_chain(folder: Path) -> tuple[Path, Path]:
    """A CA and a signing certificate under it (C2PA refuses a self-signed signer), made here."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def usage(sign: bool) -> x509.KeyUsage:
        return x509.KeyUsage(sign, False, False, False, False, not sign, not sign, False, False)

    def build(subject: str, key, issuer: str, issuer_key, ca: bool):  # noqa: ANN001, ANN202
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(usage(not ca), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        )
        if not ca:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
            ).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
            )
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = build("Studio test CA", ca_key, "Studio test CA", ca_key, True)
    signer = build("Studio test artist", key, "Studio test CA", ca_key, False)
    chain, private = folder / "chain.pem", folder / "key.pem"
    pem = serialization.Encoding.PEM
    chain.write_bytes(signer.public_bytes(pem) + ca.public_bytes(pem))
    private.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return chain, private


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("STUDIO_CONFIG_DIR", str(config))
    return config / "settings.json"


def clip() -> Video:
    frames = np.random.default_rng(0).integers(0, 255, (4, 24, 32, 3), dtype=np.uint8)
    return Video(frames, 8.0)


def test_takes_are_signed_and_read_back_with_c2pa(tmp_path, settings):
    chain, key = throwaway_chain(tmp_path)
    settings.write_text(
        json.dumps({"content_credentials": {"certificate": str(chain), "private_key": str(key)}})
    )
    ctx = FakeRunContext(tmp_path / "out", WORKFLOW)
    video = run_node(SAVE_VIDEO, ctx, {"video": clip()}, content_credentials=True)
    image = run_node(SAVE_IMAGE, ctx, {"image": clip().frames[0]}, content_credentials=True)
    for result in (video, image):
        found = read_credentials(Path(result["files"][0]))
        assert found is not None and found["ai_generated"]
        assert found["models"] == ["Studio built-in animator"]
        assert found["signer"] == "Studio test artist"
        assert found["validation"] in ("Valid", "Trusted")  # untrusted root: still valid
        sidecar = json.loads(Path(result["files"][0]).with_suffix(".json").read_text())
        embedded = {k: v for k, v in sidecar.items()}
        embedded["metadata"] = {
            "take": {
                k: v
                for k, v in sidecar["metadata"]["take"].items()
                if k in ("shot", "cache_key", "paths")
            }
        }
        assert found["workflow_sha256"] == workflow_hash(embedded)
        assert SAVE_VIDEO.still_valid(result)  # the signed file is the take's file
    plain = run_node(SAVE_VIDEO, ctx, {"video": clip()}, filename="plain")
    assert read_credentials(Path(plain["files"][0])) is None  # off by default


def test_signing_without_a_certificate_says_what_to_set(tmp_path, settings):
    with pytest.raises(NodeError, match='no signing certificate is set: add "content_credentials"'):
        run_node(
            SAVE_VIDEO,
            FakeRunContext(tmp_path, WORKFLOW),
            {"video": clip()},
            content_credentials=True,
        )
    assert not (tmp_path / "shot").exists()
