"""Content credentials: a C2PA manifest in a take's mp4 or PNG saying it is AI-generated.

Off by default. A Save node with ``content_credentials`` on signs the file it writes (before the
take is published, so the take's recorded size and time are the signed file's) with the user's
own certificate chain and private key, named in the settings file::

    "content_credentials": {"certificate": "/path/chain.pem", "private_key": "/path/key.pem",
                            "algorithm": "es256", "timestamp_url": null}

The manifest holds one ``c2pa.created`` action whose ``digitalSourceType`` is the IPTC term for
media made by a trained model, the models the workflow names, the Studio version and the SHA-256
of the embedded workflow. Signing and reading use ``c2pa-python`` (an optional package: the
``credentials`` extra). :func:`read_credentials` reads a manifest back with c2pa's own reader.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AI_GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ALGORITHMS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")
SETTING = "content_credentials"


class CredentialsError(Exception):
    """Signing was asked for and cannot be done: one line saying what to fix."""


@dataclass(frozen=True)
class SigningKey:
    certificate_pem: bytes  # the signer's certificate first, then its issuers
    private_key_pem: bytes
    algorithm: str = "es256"
    timestamp_url: str | None = None


def signing_key_from_settings(settings: Any = None) -> SigningKey:
    """The user's certificate and key as the settings file names them."""
    if settings is None:
        from studio.settings import Settings

        settings = Settings()
    entry = settings.get(SETTING)
    if not isinstance(entry, dict) or not entry.get("certificate") or not entry.get("private_key"):
        raise CredentialsError(
            "content credentials are on, but no signing certificate is set: add "
            f'"{SETTING}": {{"certificate": "chain.pem", "private_key": "key.pem"}} to '
            f"{getattr(settings, 'path', 'the settings file')}"
        )
    algorithm = str(entry.get("algorithm") or "es256").lower()
    if algorithm not in ALGORITHMS:
        raise CredentialsError(f"unknown signing algorithm {algorithm!r}; use one of {ALGORITHMS}")
    try:
        certificate = Path(os.path.expanduser(entry["certificate"])).read_bytes()
        key = Path(os.path.expanduser(entry["private_key"])).read_bytes()
    except (OSError, TypeError) as error:
        raise CredentialsError(f"cannot read the signing certificate or key: {error}") from None
    url = entry.get("timestamp_url")
    return SigningKey(certificate, key, algorithm, url if isinstance(url, str) and url else None)


def workflow_hash(workflow: dict[str, Any] | None) -> str:
    text = json.dumps(workflow or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def models_of(workflow: dict[str, Any] | None) -> list[str]:
    """The models a workflow names (file names only), else the generating node types."""
    nodes = (workflow or {}).get("nodes")
    records = [r for r in nodes.values() if isinstance(r, dict)] if isinstance(nodes, dict) else []
    models = set()
    for record in records:
        params = record.get("params") if isinstance(record.get("params"), dict) else {}
        value = params.get("model")
        if isinstance(value, str) and value:
            models.add(Path(value.replace("\\", "/")).name)
    if not models:
        kinds = {"ImageToVideo": "Studio built-in animator", "GenerateKeyframe": "diffusion"}
        models = {kinds[r.get("type")] for r in records if r.get("type") in kinds}
    return sorted(models)


def manifest_for(title: str, workflow: dict[str, Any] | None) -> dict[str, Any]:
    from studio import __version__

    return {
        "claim_generator_info": [{"name": "Studio", "version": __version__}],
        "title": title,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": AI_GENERATED,
                            "softwareAgent": {"name": "Studio", "version": __version__},
                            "parameters": {
                                "models": models_of(workflow),
                                "workflow_sha256": workflow_hash(workflow),
                            },
                        }
                    ]
                },
            }
        ],
    }


def sign_file(path: Path, key: SigningKey, title: str, workflow: dict[str, Any] | None) -> None:
    """Embed a signed manifest in ``path`` (an mp4 or PNG in a private staging folder)."""
    try:
        import c2pa
    except ImportError:
        raise CredentialsError(
            "content credentials need the c2pa-python package: pip install 'studio[credentials]'"
        ) from None
    signed = path.with_name(f"signed-{path.name}")
    try:
        info = c2pa.C2paSignerInfo(
            key.algorithm, key.certificate_pem, key.private_key_pem, key.timestamp_url
        )
        signer = c2pa.Signer.from_info(info)
        with c2pa.Builder(manifest_for(title, workflow)) as builder:
            builder.sign_file(str(path), str(signed), signer)
    except c2pa.C2paError as error:
        signed.unlink(missing_ok=True)
        raise CredentialsError(
            f"cannot sign {title} with the certificate in settings: {error}"
        ) from None
    os.replace(signed, path)


def read_credentials(path: Path) -> dict[str, Any] | None:
    """What a file's C2PA manifest says: ``{"signer", "ai_generated", "models",
    "workflow_sha256", "validation"}``, or None when it has none (or c2pa is not installed)."""
    try:
        import c2pa
    except ImportError:
        return None
    try:
        reader = c2pa.Reader.try_create(str(path))
        if reader is None:
            return None
        with reader:
            data = json.loads(reader.json())
    except (c2pa.C2paError, OSError, ValueError):
        return None
    manifest = data.get("manifests", {}).get(data.get("active_manifest"), {})
    actions = [
        action
        for assertion in manifest.get("assertions", [])
        if str(assertion.get("label", "")).startswith("c2pa.actions")
        for action in assertion.get("data", {}).get("actions", [])
    ]
    created = next((a for a in actions if a.get("action") == "c2pa.created"), {})
    parameters = created.get("parameters") or {}
    signature = manifest.get("signature_info") or {}
    return {
        "signer": signature.get("common_name") or signature.get("issuer", ""),
        "ai_generated": created.get("digitalSourceType") == AI_GENERATED,
        "models": parameters.get("models", []),
        "workflow_sha256": parameters.get("workflow_sha256", ""),
        "validation": data.get("validation_state", ""),
    }
