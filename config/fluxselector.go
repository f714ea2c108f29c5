package config

import (
	"fmt"
	"slices"
)

// labelSelectorSpec is a Kubernetes metav1.LabelSelector as YAML writes it.
type labelSelectorSpec struct {
	MatchLabels      map[string]string `yaml:"matchLabels"`
	MatchExpressions []struct {
		Key      string   `yaml:"key"`
		Operator string   `yaml:"operator"`
		Values   []string `yaml:"values"`
	} `yaml:"matchExpressions"`
}

// labelSelector matches labels the way Kubernetes does: every matchLabels
// pair and every expression must hold. A nil selector matches everything,
// as an ImageUpdateAutomation without policySelector selects every policy
// of its namespace.
type labelSelector struct {
	reqs []labelRequirement
}

type labelRequirement struct {
	key, op string
	values  []string
}

func (s *labelSelectorSpec) compile() (*labelSelector, error) {
	sel := &labelSelector{}
	for k, v := range s.MatchLabels {
		sel.reqs = append(sel.reqs, labelRequirement{key: k, op: "In", values: []string{v}})
	}
	for i, e := range s.MatchExpressions {
		if e.Key == "" {
			return nil, fmt.Errorf("matchExpressions[%d]: key is required", i)
		}
		switch e.Operator {
		case "In", "NotIn":
			if len(e.Values) == 0 {
				return nil, fmt.Errorf("matchExpressions[%d]: operator %s needs values", i, e.Operator)
			}
		case "Exists", "DoesNotExist":
			if len(e.Values) > 0 {
				return nil, fmt.Errorf("matchExpressions[%d]: operator %s takes no values", i, e.Operator)
			}
		default:
			return nil, fmt.Errorf("matchExpressions[%d]: operator %q is not In, NotIn, Exists or DoesNotExist", i, e.Operator)
		}
		sel.reqs = append(sel.reqs, labelRequirement{key: e.Key, op: e.Operator, values: e.Values})
	}
	return sel, nil
}

func (s *labelSelector) matches(labels map[string]string) bool {
	if s == nil {
		return true
	}
	for _, r := range s.reqs {
		v, has := labels[r.key]
		var ok bool
		switch r.op {
		case "In":
			ok = has && slices.Contains(r.values, v)
		case "NotIn":
			ok = !has || !slices.Contains(r.values, v)
		case "Exists":
			ok = has
		case "DoesNotExist":
			ok = !has
		}
		if !ok {
			return false
		}
	}
	return true
}
