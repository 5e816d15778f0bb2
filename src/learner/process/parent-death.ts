import koffi from 'koffi';

const PR_SET_PDEATHSIG = 1;
const SIGKILL = 9;

/**
 * Asks Linux to SIGKILL this process the moment its parent dies, even mid-kernel: a learner whose worker was
 * SIGKILLed would otherwise compute until its step ends and its channel's close is noticed. Returns false where
 * prctl is not available (not Linux); the 'disconnect' handler is the fallback there.
 */
export function dieWithParent(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const prctl = koffi.load('libc.so.6').func('int prctl(int option, unsigned long arg2)');
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) !== 0) return false;
  } catch {
    return false;
  }
  // The parent may have died before the call: then this process was already re-parented.
  if (process.ppid === 1) process.kill(process.pid, 'SIGKILL');
  return true;
}
