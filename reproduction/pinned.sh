# Sourced by run_pinned.sh and run_search.sh: run from one pinned commit, so that a study's rows share
# one code version however many sessions its runs take. Needs PIN set; sets MAIN (this checkout), WT
# (the pinned worktree) and RES (where results land: this checkout's reproduction/results).
#
# The pinned commit is checked out beside this one (a git worktree), and the runs start in it with it
# first on PYTHONPATH, so the driver and its Ray workers import that code, not this checkout's (which
# may move on meanwhile). Starting in it matters: Ray puts the driver's working directory first on its
# workers' sys.path (measured: a worker imported /work/main/rnnsweep despite PYTHONPATH when the
# driver ran from /work/main).
MAIN=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WT=${WT:-/tmp/rnnsweep-pin-$PIN}
[ -d "$WT" ] || { git -C "$MAIN" worktree prune; git -C "$MAIN" worktree add --detach "$WT" "$PIN"; }
export PYTHONPATH="$WT"
cd "$WT" || exit 1
export RNNSWEEP_OFFLINE=1
RES="$MAIN/reproduction/results"
