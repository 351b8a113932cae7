#!/usr/bin/env bash
# cpu-int8.sh: the cpu backend on quantized models, end to end: emit, build with the
# artifact's Makefile, run, compare with `mof exec` (the reference interpreter).
#
#  - qop: an integer model (uint8 input; QLinearConv per channel with bias, a
#    depthwise strided QLinearConv to int8, a 1x1 QLinearConv, Max(zero point), a
#    QLinearMatMul per column; int8 / uint8 outputs). The artifact must equal the
#    interpreter BIT FOR BIT (--rtol=0 --atol=0), with the plain C kernels (isa=
#    baseline) and the AVX2 ones (isa=avx2, where the CPU has AVX2), 1 and 2 threads.
#  - qdq: the same network written as QDQ (float input and outputs, Dequantize ->
#    Conv / MatMul -> Quantize). The backend lowers it to integer ops (the artifact must
#    contain them and no float Conv); its outputs are within one quantization step of
#    the interpreter running the QDQ model.
#  - the tiny CNN quantized by mof's quantize-static (QDQ and QOperator), where the
#    quantization plugin is built.
# The models are generated here (ONNX text, seeded weights).
. "$(dirname "$0")/lib.sh"

cc=${CC:-cc}
if ! command -v "$cc" >/dev/null 2>&1 && ! command -v make >/dev/null 2>&1; then
    echo "skip: no C compiler or make"
    exit 77
fi
need_cpu_backend

# ints N LO HI SEED: N comma-separated pseudo-random integers in [LO, HI].
ints() {
    awk -v n="$1" -v lo="$2" -v hi="$3" -v s="$4" 'BEGIN {
        for (i = 0; i < n; i++) {
            s = (s * 1103515245 + 12345) % 2147483648
            printf "%s%d", (i ? ", " : ""), lo + int(s / 65536) % (hi - lo + 1)
        }
    }'
}

# The shared initializers: conv1 8x4x3x3 s8 per channel + bias, conv2 depthwise 8
# (s8 per tensor), conv3 1x1 16x8 u8 weights, matmul 64x10 s8 per column.
ws1="0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.01, 0.011"
inits() {
    cat <<EOF
int8[8,4,3,3] w1 = {$(ints 288 -127 127 1)},
float[8] ws1 = {$ws1}, int8[8] wz1 = {0, 0, 0, 0, 0, 0, 0, 0},
int32[8] b1 = {$(ints 8 -4000 4000 2)},
int8[8,1,3,3] w2 = {$(ints 72 -127 127 3)}, float ws2 = {0.02}, int8 wz2 = {0},
uint8[16,8,1,1] w3 = {$(ints 128 0 255 4)}, float ws3 = {0.003}, uint8 wz3 = {120},
int8[64,10] w4 = {$(ints 640 -100 100 5)},
float[10] ws4 = {0.002, 0.0021, 0.0022, 0.0023, 0.0024, 0.0025, 0.0026, 0.0027, 0.0028, 0.0029},
int8[10] wz4 = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
float sx = {0.03125}, uint8 zx = {128}, float s1 = {0.05}, uint8 z1 = {20},
float s2 = {0.04}, int8 z2 = {-5}, float s3 = {0.06}, uint8 z3 = {0},
float s4 = {0.1}, int8 z4 = {2}, int64[2] flat = {4, 64}
EOF
}

cat > "$TMP/qop.onnxtxt" <<EOF
<ir_version: 8, opset_import: ["" : 13]>
main (uint8[1,4,8,8] x) => (int8[4,10] y, uint8[1,16,4,4] c)
<$(inits)>
{
   q1 = QLinearConv <pads = [1, 1, 1, 1]> (x, sx, zx, w1, ws1, wz1, s1, z1, b1)
   r1 = Max (q1, z1)
   q2 = QLinearConv <group = 8, strides = [2, 2], pads = [1, 1, 1, 1]> (r1, s1, z1, w2, ws2, wz2, s2, z2)
   c = QLinearConv (q2, s2, z2, w3, ws3, wz3, s3, z3)
   f = Reshape (c, flat)
   y = QLinearMatMul (f, s3, z3, w4, ws4, wz4, s4, z4)
}
EOF

# The bias of conv1 dequantized with x_scale * w_scale: x_scale is a power of two, so
# the product awk computes in double rounds to the float product.
bs1=$(awk -v l="$ws1" 'BEGIN { n = split(l, a, ", "); for (i = 1; i <= n; i++)
    printf "%s%.9g", (i > 1 ? ", " : ""), 0.03125 * a[i] }')
cat > "$TMP/qdq.onnxtxt" <<EOF
<ir_version: 8, opset_import: ["" : 13]>
main (float[1,4,8,8] x) => (float[4,10] y, float[1,16,4,4] c)
<$(inits), float[8] bs1 = {$bs1}>
{
   xq = QuantizeLinear (x, sx, zx)
   xd = DequantizeLinear (xq, sx, zx)
   w1d = DequantizeLinear <axis = 0> (w1, ws1, wz1)
   b1d = DequantizeLinear <axis = 0> (b1, bs1)
   c1 = Conv <pads = [1, 1, 1, 1]> (xd, w1d, b1d)
   r1 = Relu (c1)
   q1 = QuantizeLinear (r1, s1, z1)
   d1 = DequantizeLinear (q1, s1, z1)
   w2d = DequantizeLinear (w2, ws2, wz2)
   c2 = Conv <group = 8, strides = [2, 2], pads = [1, 1, 1, 1]> (d1, w2d)
   q2 = QuantizeLinear (c2, s2, z2)
   d2 = DequantizeLinear (q2, s2, z2)
   w3d = DequantizeLinear (w3, ws3, wz3)
   c3 = Conv (d2, w3d)
   q3 = QuantizeLinear (c3, s3, z3)
   c = DequantizeLinear (q3, s3, z3)
   f = Reshape (c, flat)
   fq = QuantizeLinear (f, s3, z3)
   fd = DequantizeLinear (fq, s3, z3)
   w4d = DequantizeLinear <axis = 1> (w4, ws4, wz4)
   mm = MatMul (fd, w4d)
   q4 = QuantizeLinear (mm, s4, z4)
   y = DequantizeLinear (q4, s4, z4)
}
EOF

# npy_u8 FILE SHAPE N SEED: a .npy file of N pseudo-random uint8 over the whole range
# (the artifact's own random inputs are 0..9 for 8-bit types).
npy_u8() {
    local file=$1 shape=$2 n=$3 seed=$4 hdr pad
    hdr="{'descr': '|u1', 'fortran_order': False, 'shape': ($shape), }"
    pad=$(( (64 - (10 + ${#hdr} + 1) % 64) % 64 ))
    hdr="$hdr$(printf '%*s' "$pad" '')"
    {
        printf '\x93NUMPY\x01\x00'
        printf "\\x$(printf %02x $(( (${#hdr} + 1) % 256 )))\\x$(printf %02x $(( (${#hdr} + 1) / 256 )))"
        printf '%s\n' "$hdr"
        printf "$(ints "$n" 0 255 "$seed" | awk -F', ' '{ for (i = 1; i <= NF; i++) printf "\\x%02x", $i }')"
    } > "$file"
}

have_avx2=no
if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    have_avx2=yes
fi

# emit NAME MODEL ISA: runs the cpu backend; the artifact goes to $TMP/NAME/art.
emit() {
    local name=$1 model=$2 isa=$3 art="$TMP/$1/art"
    cat > "$TMP/$name.xml" <<XML
<pipeline>
  <pass name="infer-shapes"/>
  <backend name="cpu" output="art" prefix="m" isa="$isa" threads="2"/>
</pipeline>
XML
    if ! "$MOF" run "$TMP/$name.xml" "$model" -o "$TMP/$name" > "$TMP/$name.run" 2>&1; then
        sed 's/^/    | /' "$TMP/$name.run"
        fail "$name: mof run with the cpu backend"
        return 1
    fi
    if ! make -C "$art" > "$TMP/$name.make" 2>&1; then
        tail -20 "$TMP/$name.make" | sed 's/^/    | /'
        fail "$name: the artifact does not build"
        return 1
    fi
    return 0
}

# compare NAME MODEL RTOL ATOL WHAT [INPUTDIR]: runs the artifact with 1 and 2 threads
# on the inputs of INPUTDIR (else seeded random ones) and compares with mof exec.
compare() {
    local name=$1 model=$2 rtol=$3 atol=$4 what=$5 art="$TMP/$1/art" t
    local inputs="$TMP/$name-in" src
    mkdir -p "$inputs" "$TMP/$name-out"
    for t in 1 2; do
        rm -rf "$TMP/$name-out"/*
        if [ -n "${6:-}" ]; then
            inputs=$6
            src=(-i "$inputs")
        else
            rm -rf "$inputs"/*
            src=(-r 7 -s "$inputs")
        fi
        if ! "$art/m_main" -n 0 -t "$t" "${src[@]}" -o "$TMP/$name-out" \
                > "$TMP/$name.main" 2>&1; then
            sed 's/^/    | /' "$TMP/$name.main"
            fail "$name: the artifact does not run with $t thread(s)"
            continue
        fi
        if "$MOF" exec "$model" --inputs="$inputs" --expect="$TMP/$name-out" \
                --rtol="$rtol" --atol="$atol" > "$TMP/$name.cmp" 2>&1; then
            pass "$name: $what ($t thread(s))"
        else
            sed 's/^/    | /' "$TMP/$name.cmp"
            fail "$name: artifact differs from mof exec: not $what ($t thread(s))"
        fi
    done
}

mkdir -p "$TMP/qop-in"
npy_u8 "$TMP/qop-in/x.npy" "1, 4, 8, 8" 256 11

isas="baseline"
[ "$have_avx2" = yes ] && isas="baseline avx2"
for isa in $isas; do
    if emit "qop-$isa" "$TMP/qop.onnxtxt" "$isa"; then
        if grep -q '_i8_conv_run' "$TMP/qop-$isa/art/m.c" &&
                grep -q '_i8_matmul_run' "$TMP/qop-$isa/art/m.c"; then
            pass "qop-$isa: QLinearConv and QLinearMatMul run on the int8 kernels"
        else
            fail "qop-$isa: the artifact does not call the int8 kernels"
        fi
        compare "qop-$isa" "$TMP/qop.onnxtxt" 0 0 "bit-exact with mof exec (isa=$isa)" \
            "$TMP/qop-in"
    fi
done

isa=baseline
[ "$have_avx2" = yes ] && isa=avx2
if emit qdq "$TMP/qdq.onnxtxt" "$isa"; then
    n=$(grep -c '_i8_conv_run' "$TMP/qdq/art/m.c")
    if [ "$n" -eq 3 ] && grep -q '_i8_matmul_run' "$TMP/qdq/art/m.c"; then
        pass "qdq: the three Conv and the MatMul were lowered to integer kernels"
    else
        fail "qdq: $n integer convolutions in the artifact, expected 3 (and a matmul)"
    fi
    # One step of the outputs' quantization: y's scale is 0.1, c's 0.06.
    compare qdq "$TMP/qdq.onnxtxt" 0 0.1001 "within one quantization step of the QDQ model"
fi

# The tiny CNN quantized by mof's own quantize-static (when the quantization plugin is
# there), QDQ and QOperator: the integer convolutions run on the int8 kernels, the
# float tail (Gemm) on portable; the artifact matches mof exec on the quantized model
# (default tolerance, for the float tail's summation order).
if "$MOF" passes 2>/dev/null | grep -q '^ *quantize-static'; then
    for fmt in qdq qoperator; do
        cat > "$TMP/tiny-$fmt.xml" <<XML
<pipeline>
  <pass name="fold-constants"/>
  <pass name="eliminate-identity"/>
  <pass name="fuse-conv-bn"/>
  <pass name="quantize-static" calibration="random:8" format="$fmt" report-samples="0"/>
  <pass name="infer-shapes"/>
</pipeline>
XML
        if ! "$MOF" run -q "$TMP/tiny-$fmt.xml" "$MODEL" -o "$TMP/tiny-$fmt.onnx" \
                > "$TMP/tiny-$fmt.q" 2>&1; then
            sed 's/^/    | /' "$TMP/tiny-$fmt.q"
            fail "tiny-$fmt: quantize-static"
            continue
        fi
        if emit "tiny-$fmt" "$TMP/tiny-$fmt.onnx" "$isa"; then
            n=$(grep -c '_i8_conv_run' "$TMP/tiny-$fmt/art/m.c")
            if [ "$n" -eq 2 ]; then
                pass "tiny-$fmt: both convolutions run on the int8 kernels"
            else
                fail "tiny-$fmt: $n integer convolutions, expected 2"
            fi
            compare "tiny-$fmt" "$TMP/tiny-$fmt.onnx" 1e-4 1e-5 \
                "quantize-static ($fmt) artifact = mof exec" \
                "$top_srcdir/examples/models/tiny-cnn-inputs"
        fi
    done
else
    echo "note: no quantize-static pass loaded; the tiny CNN checks are skipped"
fi

finish
