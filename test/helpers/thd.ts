/**
 * THD+N of a sine of known frequency: fit a*sin + b*cos + c by least squares
 * (normal equations, solved in double precision) and compare the power of
 * the residual with the power of the fitted sine.
 */
export function thdN(x: ArrayLike<number>, rate: number, freq: number): number {
  const w = (2 * Math.PI * freq) / rate;
  const n = x.length;
  // Sums for the 3x3 normal equations of [sin, cos, 1].
  const A = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  const B = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const basis = [Math.sin(w * i), Math.cos(w * i), 1];
    for (let r = 0; r < 3; r++) {
      B[r] += basis[r] * x[i];
      for (let c = 0; c < 3; c++) A[r][c] += basis[r] * basis[c];
    }
  }
  // Gaussian elimination (the matrix is symmetric positive definite).
  for (let col = 0; col < 3; col++) {
    for (let row = col + 1; row < 3; row++) {
      const f = A[row][col] / A[col][col];
      for (let k = col; k < 3; k++) A[row][k] -= f * A[col][k];
      B[row] -= f * B[col];
    }
  }
  const sol = [0, 0, 0];
  for (let row = 2; row >= 0; row--) {
    let v = B[row];
    for (let k = row + 1; k < 3; k++) v -= A[row][k] * sol[k];
    sol[row] = v / A[row][row];
  }
  let signal = 0;
  let residual = 0;
  for (let i = 0; i < n; i++) {
    const s = sol[0] * Math.sin(w * i) + sol[1] * Math.cos(w * i);
    signal += s * s;
    residual += (x[i] - s - sol[2]) ** 2;
  }
  return 10 * Math.log10(residual / signal);
}

/** Amplitude of the fitted sine (same fit). */
export function sineAmplitude(x: ArrayLike<number>, rate: number, freq: number): number {
  const w = (2 * Math.PI * freq) / rate;
  let s = 0;
  let c = 0;
  for (let i = 0; i < x.length; i++) {
    s += x[i] * Math.sin(w * i);
    c += x[i] * Math.cos(w * i);
  }
  return (2 * Math.hypot(s, c)) / x.length;
}
