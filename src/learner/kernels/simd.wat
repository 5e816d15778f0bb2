;; Element-wise kernels of the transformer, in WebAssembly SIMD (f32x4), run on the tfjs wasm backend's own memory
;; (imported): every pointer is a byte offset of a float32 tensor on that heap, `n` counts floats. The JS loops
;; they replace ran 1.4–6.5 ns per element; these are bound by memory traffic. Built into simd-binary.ts by
;; scripts/build-simd.mjs (`--check` in a test). Squares are written out rather than called: V8 does not inline
;; wasm calls, and a call per vector cost more than the arithmetic (RMSNorm 2.3 → 0.8 ms per prefill). Row widths
;; (H, half of the head dim) must be multiples of 4; ops.ts uses the composite ops otherwise.
(module
  (import "env" "memory" (memory 1))

  ;; y = x · rsqrt(mean(x²) + eps) · w over rows of width H.
  (func (export "rms_norm")
    (param $x i32) (param $w i32) (param $y i32) (param $rows i32) (param $H i32) (param $eps f32)
    (local $r i32) (local $j i32) (local $row i32) (local $bytes i32) (local $acc v128) (local $rs v128) (local $xv v128)
    (local.set $bytes (i32.shl (local.get $H) (i32.const 2)))
    (block $rows_done (loop $rows_loop
      (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $row (i32.mul (local.get $r) (local.get $bytes)))
      (local.set $acc (f32x4.splat (f32.const 0)))
      (local.set $j (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $j) (local.get $bytes)))
        (local.set $xv (v128.load (i32.add (local.get $x) (i32.add (local.get $row) (local.get $j)))))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $xv) (local.get $xv))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l1)))
      (local.set $rs (f32x4.splat (call $rsqrt_mean (local.get $acc) (local.get $H) (local.get $eps))))
      (local.set $j (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_u (local.get $j) (local.get $bytes)))
        (v128.store (i32.add (local.get $y) (i32.add (local.get $row) (local.get $j)))
          (f32x4.mul
            (f32x4.mul (v128.load (i32.add (local.get $x) (i32.add (local.get $row) (local.get $j)))) (local.get $rs))
            (v128.load (i32.add (local.get $w) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l2)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows_loop))))

  ;; dx = r·(w·dy − x·r²·Σ(w·dy·x)/H), dw = Σ_rows dy·x·r, with r = rsqrt(mean(x²) + eps).
  (func (export "rms_norm_grad")
    (param $dy i32) (param $x i32) (param $w i32) (param $dx i32) (param $dw i32)
    (param $rows i32) (param $H i32) (param $eps f32)
    (local $r i32) (local $j i32) (local $row i32) (local $bytes i32)
    (local $ss v128) (local $dot v128) (local $xv v128) (local $wdy v128) (local $dyv v128)
    (local $rs f32) (local $rsv v128) (local $cv v128)
    (local.set $bytes (i32.shl (local.get $H) (i32.const 2)))
    (memory.fill (local.get $dw) (i32.const 0) (local.get $bytes))
    (block $rows_done (loop $rows_loop
      (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $row (i32.mul (local.get $r) (local.get $bytes)))
      (local.set $ss (f32x4.splat (f32.const 0)))
      (local.set $dot (f32x4.splat (f32.const 0)))
      (local.set $j (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $j) (local.get $bytes)))
        (local.set $xv (v128.load (i32.add (local.get $x) (i32.add (local.get $row) (local.get $j)))))
        (local.set $ss (f32x4.add (local.get $ss) (f32x4.mul (local.get $xv) (local.get $xv))))
        (local.set $dot (f32x4.add (local.get $dot)
          (f32x4.mul
            (f32x4.mul (v128.load (i32.add (local.get $w) (local.get $j)))
                       (v128.load (i32.add (local.get $dy) (i32.add (local.get $row) (local.get $j)))))
            (local.get $xv))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l1)))
      (local.set $rs (call $rsqrt_mean (local.get $ss) (local.get $H) (local.get $eps)))
      (local.set $rsv (f32x4.splat (local.get $rs)))
      (local.set $cv (f32x4.splat
        (f32.div (f32.mul (f32.mul (local.get $rs) (local.get $rs)) (call $hsum (local.get $dot)))
                 (f32.convert_i32_u (local.get $H)))))
      (local.set $j (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_u (local.get $j) (local.get $bytes)))
        (local.set $xv (v128.load (i32.add (local.get $x) (i32.add (local.get $row) (local.get $j)))))
        (local.set $dyv (v128.load (i32.add (local.get $dy) (i32.add (local.get $row) (local.get $j)))))
        (local.set $wdy (f32x4.mul (v128.load (i32.add (local.get $w) (local.get $j))) (local.get $dyv)))
        (v128.store (i32.add (local.get $dx) (i32.add (local.get $row) (local.get $j)))
          (f32x4.mul (local.get $rsv)
            (f32x4.sub (local.get $wdy) (f32x4.mul (local.get $xv) (local.get $cv)))))
        (v128.store (i32.add (local.get $dw) (local.get $j))
          (f32x4.add (v128.load (i32.add (local.get $dw) (local.get $j)))
            (f32x4.mul (f32x4.mul (local.get $dyv) (local.get $xv)) (local.get $rsv))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l2)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows_loop))))

  ;; y = gate · s · up (s = sigmoid(gate), from the backend's vectorised Sigmoid: a polynomial e^x here ran at
  ;; ~1 ns per element, slower than XNNPACK's). n floats, a multiple of 4.
  (func (export "swiglu")
    (param $g i32) (param $s i32) (param $u i32) (param $y i32) (param $n i32)
    (local $i i32) (local $end i32)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (v128.store (i32.add (local.get $y) (local.get $i))
        (f32x4.mul
          (f32x4.mul (v128.load (i32.add (local.get $g) (local.get $i))) (v128.load (i32.add (local.get $s) (local.get $i))))
          (v128.load (i32.add (local.get $u) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l))))

  ;; dgate = dy·up·s·(1 + gate·(1 − s)), dup = dy·gate·s.
  (func (export "swiglu_grad")
    (param $dy i32) (param $g i32) (param $s i32) (param $u i32) (param $dg i32) (param $du i32) (param $n i32)
    (local $i i32) (local $end i32) (local $dyv v128) (local $gv v128) (local $sv v128) (local $one v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $one (f32x4.splat (f32.const 1)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $dyv (v128.load (i32.add (local.get $dy) (local.get $i))))
      (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
      (local.set $sv (v128.load (i32.add (local.get $s) (local.get $i))))
      (v128.store (i32.add (local.get $dg) (local.get $i))
        (f32x4.mul
          (f32x4.mul (f32x4.mul (local.get $dyv) (v128.load (i32.add (local.get $u) (local.get $i)))) (local.get $sv))
          (f32x4.add (local.get $one)
            (f32x4.mul (local.get $gv) (f32x4.sub (local.get $one) (local.get $sv))))))
      (v128.store (i32.add (local.get $du) (local.get $i))
        (f32x4.mul (f32x4.mul (local.get $dyv) (local.get $gv)) (local.get $sv)))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l))))

  ;; Rotary embedding of x [rows, h, d] (rows = B·T) with tables cos/sin [rows, d] whose halves repeat the same
  ;; frequencies: y = x·cos + rotate_half(x)·sin·sign (sign −1 is the gradient).
  (func (export "rope")
    (param $x i32) (param $cos i32) (param $sin i32) (param $y i32)
    (param $rows i32) (param $h i32) (param $d i32) (param $sign f32)
    (local $r i32) (local $k i32) (local $i i32) (local $half i32) (local $tab i32) (local $base i32)
    (local $c v128) (local $s v128) (local $a v128) (local $b v128) (local $signv v128)
    (local.set $half (i32.shl (local.get $d) (i32.const 1))) ;; half of d, in bytes
    (local.set $signv (f32x4.splat (local.get $sign)))
    (block $rows_done (loop $rows_loop
      (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $tab (i32.mul (local.get $r) (i32.shl (local.get $d) (i32.const 2))))
      (local.set $k (i32.const 0))
      (block $heads_done (loop $heads_loop
        (br_if $heads_done (i32.ge_u (local.get $k) (local.get $h)))
        (local.set $base (i32.shl
          (i32.mul (i32.add (i32.mul (local.get $r) (local.get $h)) (local.get $k)) (local.get $d)) (i32.const 2)))
        (local.set $i (i32.const 0))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $i) (local.get $half)))
          (local.set $c (v128.load (i32.add (local.get $cos) (i32.add (local.get $tab) (local.get $i)))))
          (local.set $s (f32x4.mul (local.get $signv)
            (v128.load (i32.add (local.get $sin) (i32.add (local.get $tab) (local.get $i))))))
          (local.set $a (v128.load (i32.add (local.get $x) (i32.add (local.get $base) (local.get $i)))))
          (local.set $b (v128.load (i32.add (local.get $x)
            (i32.add (local.get $base) (i32.add (local.get $i) (local.get $half))))))
          (v128.store (i32.add (local.get $y) (i32.add (local.get $base) (local.get $i)))
            (f32x4.sub (f32x4.mul (local.get $a) (local.get $c)) (f32x4.mul (local.get $b) (local.get $s))))
          (v128.store (i32.add (local.get $y) (i32.add (local.get $base) (i32.add (local.get $i) (local.get $half))))
            (f32x4.add (f32x4.mul (local.get $b) (local.get $c)) (f32x4.mul (local.get $a) (local.get $s))))
          (local.set $i (i32.add (local.get $i) (i32.const 16)))
          (br $l1)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $heads_loop)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows_loop))))

  ;; One AdamW step of one parameter, in the same float32 operations and order as the composite ops of
  ;; trainer/optimizer.ts (so results are bit-identical): g = g0·scale; m' = m·b1 + g·(1−b1);
  ;; v' = v·b2 + g²·(1−b2); δ = lr·((m'/bc1)/(sqrt(v'/bc2) + eps) + wd·p); p' = p − δ. Constants come rounded to
  ;; float32 as tfjs's scalars are. Returns Σδ² (the update norm's share). scale = 1 skips the product exactly.
  (func (export "adamw")
    (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $po i32) (param $mo i32) (param $vo i32)
    (param $n i32) (param $scale f32) (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $bc1 f32) (param $bc2 f32) (param $eps f32) (param $lr f32) (param $wd f32)
    (result f32)
    (local $i i32) (local $end i32) (local $gv v128) (local $mv v128) (local $vv v128) (local $pv v128)
    (local $d v128) (local $acc v128)
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $acc (f32x4.splat (f32.const 0)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $gv (v128.load (i32.add (local.get $g) (local.get $i))))
      (if (f32.ne (local.get $scale) (f32.const 1))
        (then (local.set $gv (f32x4.mul (local.get $gv) (f32x4.splat (local.get $scale))))))
      (local.set $mv (f32x4.add
        (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $i))) (f32x4.splat (local.get $b1)))
        (f32x4.mul (local.get $gv) (f32x4.splat (local.get $c1)))))
      (local.set $vv (f32x4.add
        (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $i))) (f32x4.splat (local.get $b2)))
        (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (f32x4.splat (local.get $c2)))))
      (local.set $pv (v128.load (i32.add (local.get $p) (local.get $i))))
      (local.set $d (f32x4.div
        (f32x4.div (local.get $mv) (f32x4.splat (local.get $bc1)))
        (f32x4.add (f32x4.sqrt (f32x4.div (local.get $vv) (f32x4.splat (local.get $bc2))))
                   (f32x4.splat (local.get $eps)))))
      (if (f32.ne (local.get $wd) (f32.const 0))
        (then (local.set $d (f32x4.add (local.get $d) (f32x4.mul (local.get $pv) (f32x4.splat (local.get $wd)))))))
      (local.set $d (f32x4.mul (local.get $d) (f32x4.splat (local.get $lr))))
      (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $d) (local.get $d))))
      (v128.store (i32.add (local.get $mo) (local.get $i)) (local.get $mv))
      (v128.store (i32.add (local.get $vo) (local.get $i)) (local.get $vv))
      (v128.store (i32.add (local.get $po) (local.get $i)) (f32x4.sub (local.get $pv) (local.get $d)))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l)))
    (call $hsum (local.get $acc)))

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; 1 / sqrt(Σ lanes / H + eps), in float64 like the JS kernels before these.
  (func $rsqrt_mean (param $acc v128) (param $H i32) (param $eps f32) (result f32)
    (f32.demote_f64 (f64.div (f64.const 1)
      (f64.sqrt (f64.add
        (f64.div (f64.promote_f32 (call $hsum (local.get $acc))) (f64.convert_i32_u (local.get $H)))
        (f64.promote_f32 (local.get $eps)))))))
)
