#!/usr/bin/env python3
"""Cross-check mof's ONNX text printer and parser with the onnx package's.

    text_crosscheck.py NODE_DIR MOF_TEXTS ONNX_TEXTS

NODE_DIR is libonnx-testdata's data/node folder. MOF_TEXTS holds NAME.onnxtxt files
that mof printed from NODE_DIR/NAME/model.onnx (tests/unit/test_text.c writes them).
For each one:

  1. onnx.parser.parse_model must read mof's text, into a model that
     onnx.printer.to_text prints exactly as it prints the original binary model
     (so the two are the same model as far as the text syntax can tell);
  2. onnx.printer.to_text of the original model is written to ONNX_TEXTS/NAME.onnxtxt,
     for test_text.c to parse with mof in turn.

Prints a summary line and the first differences; exits 1 when a text did not parse or
differed, 77 when the onnx package has no text parser (onnx < 1.10)."""
import difflib
import os
import sys

try:
    import onnx
    import onnx.parser
    import onnx.printer
except ImportError as e:
    print(f"text_crosscheck: no onnx text parser ({e}); skipped")
    sys.exit(77)


def main():
    node_dir, mof_dir, onnx_dir = sys.argv[1:4]
    same = differ = errors = 0
    for name in sorted(os.listdir(mof_dir)):
        if not name.endswith(".onnxtxt"):
            continue
        model = name[: -len(".onnxtxt")]
        with open(os.path.join(mof_dir, name), encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
        original = onnx.load(os.path.join(node_dir, model, "model.onnx"))
        want = onnx.printer.to_text(original)
        with open(os.path.join(onnx_dir, name), "w", encoding="utf-8",
                  errors="surrogateescape") as f:
            f.write(want)
        try:
            parsed = onnx.parser.parse_model(text)
        except Exception as e:  # the parser raises its own ParseError
            errors += 1
            if errors <= 5:
                print(f"text_crosscheck: onnx cannot parse mof's text of {model}: {e}")
            continue
        got = onnx.printer.to_text(parsed)
        if got == want:
            same += 1
            continue
        differ += 1
        if differ <= 5:
            print(f"text_crosscheck: {model}: onnx reads mof's text as another model:")
            diff = difflib.unified_diff(want.splitlines(), got.splitlines(), "original",
                                        "from mof's text", lineterm="", n=1)
            print("\n".join(list(diff)[:20]))
    print(f"text_crosscheck: onnx.parser reads {same} of {same + differ + errors} mof texts "
          f"as the original model ({differ} differ, {errors} do not parse)")
    return 1 if differ or errors else 0


if __name__ == "__main__":
    sys.exit(main())
