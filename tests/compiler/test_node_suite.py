"""ONNX node test cases (built in memory) through the `cpu` target, compared like onnx's runner.

A representative subset runs here: every 4th case by name, one case of each op family, and
the cases that once went wrong (RNNs that omit an optional output, subgraphs that read outer
values, opsets newer than 21, sequences, optionals, strings, `ai.onnx.ml`, an opset-8 Scan).
Cases onnxruntime itself fails on the original model are skipped, since host segments run on
onnxruntime. The whole suite: `benchmarks/conformance_node.py`.
"""

from __future__ import annotations

import pytest

from tsuc.tools.node_suite import all_cases, onnxruntime_passes, representative, run_case

REGRESSIONS = (
    # optional outputs left out: Y must not come back under Y_h's name
    "test_gru_defaults", "test_lstm_defaults", "test_simple_rnn_defaults", "test_gru_seq_length",
    "test_lstm_with_peepholes", "test_simple_rnn_with_initial_bias", "test_rnn_seq_length",
    # If/Loop/Scan bodies reading values of the enclosing graph
    "test_affine_grid_2d_expanded", "test_range_float_type_positive_delta_expanded",
    "test_range_int32_type_negative_delta_expanded", "test_loop11", "test_loop13_seq", "test_if_seq",
    "test_if_opt", "test_scan9_sum", "test_scan_sum",
    # opsets newer than 21
    "test_attention_3d", "test_rms_normalization_2d_axis0", "test_rotary_embedding", "test_swish",
    "test_cumprod_1d", "test_bitcast_float32_to_int32", "test_tensorscatter", "test_mod_mixed_sign_float32",
    "test_globalmaxpool", "test_spacetodepth",
    # sequences, optionals, strings, ai.onnx.ml
    "test_sequence_map_add_2_sequences", "test_split_to_sequence_1", "test_optional_get_element_sequence",
    "test_optional_has_element_empty_optional_input", "test_strnormalizer_export_monday_casesensintive_lower",
    "test_regex_full_match_basic", "test_string_concat", "test_equal_string", "test_ai_onnx_ml_label_encoder_string_int",
    "test_ai_onnx_ml_array_feature_extractor", "test_ai_onnx_ml_binarizer", "test_ai_onnx_ml_tree_ensemble_set_membership",
    "test_cast_FLOAT_to_BFLOAT16", "test_cast_INT4_to_FLOAT", "test_cast_FLOAT_to_FLOAT8E4M3FN",
)

CASES = representative(all_cases(), every=4, always=REGRESSIONS)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_node_case_matches(case):
    if not onnxruntime_passes(case):
        pytest.skip("onnxruntime fails this case on the original model")
    result = run_case(case)
    assert result.outcome == "pass", f"{result.outcome}: {result.message}"


def test_regressions_are_in_the_suite():
    """The named cases exist in the installed onnx (a rename would silently drop a regression)."""
    names = {c.name for c in all_cases()}
    missing = [n for n in REGRESSIONS if n not in names]
    assert len(missing) <= len(REGRESSIONS) // 4, f"gone from the installed onnx: {missing}"
