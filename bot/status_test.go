package bot

import (
	"errors"
	"fmt"
	"testing"

	"github.com/imagebump/imagebump/patcher"
	"github.com/imagebump/imagebump/problem"
)

func TestStatus(t *testing.T) {
	change := []patcher.Change{{File: "a.yaml", Line: 1, Policy: "web", Old: "1", New: "2"}}
	bad := []problem.Problem{{File: "a.yaml", Line: 2, Message: "marker on a mapping"}}
	failedPolicy := []Resolution{{Policy: atRoot(nil), Err: errors.New("503")}}
	tests := []struct {
		name string
		got  Status
		want Status
	}{
		{"plan, nothing to do", (&Outcome{Patch: &patcher.Plan{}}).Status(true), StatusOK},
		{"plan, changes without --exit-code", (&Outcome{Patch: &patcher.Plan{Changes: change}}).Status(false), StatusOK},
		{"plan --exit-code, changes", (&Outcome{Patch: &patcher.Plan{Changes: change}}).Status(true), StatusChanges},
		{"plan --exit-code, changes and a problem", (&Outcome{Patch: &patcher.Plan{Changes: change, Problems: bad}}).Status(true), StatusFailed},
		{"a policy that failed", (&Outcome{Patch: &patcher.Plan{}, Policies: failedPolicy}).Status(false), StatusFailed},
		{"apply, a file not written", (&Outcome{Patch: &patcher.Plan{}, Written: []patcher.WriteResult{{Path: "a.yaml", Err: errors.New("EFBIG")}}}).Status(false), StatusFailed},
		{"invalid policy files", ErrStatus(fmt.Errorf("loading: %w", problem.List(bad))), StatusInvalid},
		{"another error", ErrStatus(errors.New("walking: EIO")), StatusFailed},
		{"run, all fine", Statuses([]Result{{}, {}}), StatusOK},
		{"run, one repository failed", Statuses([]Result{{}, {Err: errors.New("sync")}}), StatusFailed},
		{"run, one invalid and one failed", Statuses([]Result{{Err: errors.New("sync")}, {Invalid: true, Err: problem.List(bad)}, {}}), StatusInvalid},
		{"run, a pull request action failed", Statuses([]Result{{PullRequests: nil}, {Plan: &patcher.Plan{Problems: bad}}}), StatusFailed},
		{"validate, a problem", (&Validation{Problems: bad}).Status(), StatusInvalid},
		{"validate, warnings only", (&Validation{Warnings: []patcher.Warning{{File: "a.yaml", Line: 1}}}).Status(), StatusOK},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}
