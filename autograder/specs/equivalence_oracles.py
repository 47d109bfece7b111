"""What the ``equivalence`` check kind knows of each oracle (the PyTorch built-in it compares
with): its sizes, constructor options, input options and edge cases.  Plain data, shared by
the spec schema (validation) and worker/checks/equivalence_check.py (planning)."""

from __future__ import annotations

from typing import Any

CELLS = ("rnn_cell", "lstm_cell", "gru_cell")
LAYERS = ("rnn", "lstm", "gru")
GATES = {"rnn_cell": 1, "lstm_cell": 4, "gru_cell": 3, "rnn": 1, "lstm": 4, "gru": 3}
MASKS = ("none", "causal", "padding", "padding_causal")

# Sizes each oracle draws, with their default ranges (``dims`` may override any of them).
ORACLE_DIMS: dict[str, dict[str, tuple[int, int]]] = {
    **{o: {"batch": (1, 4), "input_size": (1, 6), "hidden_size": (1, 6)} for o in CELLS},
    **{
        o: {"batch": (1, 4), "length": (1, 7), "input_size": (1, 6), "hidden_size": (1, 6)}
        for o in LAYERS
    },
    "scaled_dot_product_attention": {
        "batch": (1, 3),
        "heads": (1, 3),
        "q_len": (1, 6),
        "kv_len": (1, 6),
        "embed": (1, 6),
        "value_embed": (1, 6),
    },
    "multi_head_attention": {
        "batch": (1, 3),
        "q_len": (1, 6),
        "kv_len": (1, 6),
        "num_heads": (1, 3),
        "head_dim": (1, 4),
    },
    "transformer_encoder_layer": {
        "batch": (1, 3),
        "length": (1, 6),
        "num_heads": (1, 3),
        "head_dim": (1, 4),
        "dim_feedforward": (1, 12),
    },
}
ORACLES = tuple(ORACLE_DIMS)

# Constructor options the spec may set (init), with the values allowed.
_BOOL = (False, True)
ORACLE_INIT: dict[str, dict[str, tuple[Any, ...]]] = {
    "rnn_cell": {"bias": _BOOL, "nonlinearity": ("tanh", "relu")},
    "lstm_cell": {"bias": _BOOL},
    "gru_cell": {"bias": _BOOL},
    "rnn": {
        "bias": _BOOL,
        "nonlinearity": ("tanh", "relu"),
        "num_layers": (1, 2, 3, 4),
        "bidirectional": _BOOL,
        "batch_first": _BOOL,
    },
    "lstm": {
        "bias": _BOOL,
        "num_layers": (1, 2, 3, 4),
        "bidirectional": _BOOL,
        "batch_first": _BOOL,
    },
    "gru": {
        "bias": _BOOL,
        "num_layers": (1, 2, 3, 4),
        "bidirectional": _BOOL,
        "batch_first": _BOOL,
    },
    "scaled_dot_product_attention": {},
    "multi_head_attention": {"batch_first": _BOOL},
    "transformer_encoder_layer": {
        "batch_first": _BOOL,
        "norm_first": _BOOL,
        "activation": ("relu", "gelu"),
    },
}
# How inputs are made (inputs); a list is cycled over the cases too.
ORACLE_INPUTS: dict[str, dict[str, tuple[Any, ...]]] = {
    **{o: {"initial_state": _BOOL} for o in CELLS + LAYERS},
    "scaled_dot_product_attention": {"mask": MASKS},
    "multi_head_attention": {"mask": MASKS, "self_attention": _BOOL},
    "transformer_encoder_layer": {"mask": MASKS},
}
EDGE_CASES: dict[str, tuple[str, ...]] = {
    **{o: ("batch_1",) for o in CELLS},
    **{o: ("batch_1", "length_1") for o in LAYERS},
    "scaled_dot_product_attention": ("batch_1", "length_1", "fully_masked_row"),
    "multi_head_attention": ("batch_1", "length_1", "fully_masked_row"),
    "transformer_encoder_layer": ("batch_1", "length_1"),
}
