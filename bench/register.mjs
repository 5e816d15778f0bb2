// Kept so `node --import ./bench/register.mjs bench/<file>.ts` keeps working; the loader lives in scripts/.
import '../scripts/register-ts.mjs';
