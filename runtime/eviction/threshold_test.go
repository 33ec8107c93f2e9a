package eviction

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gossipod/gossipod/api"
)

func TestParseEvictionHard(t *testing.T) {
	tests := []struct {
		in      string
		want    []Threshold
		wantErr string
	}{
		{DefaultEvictionHard, []Threshold{
			{Signal: SignalImageFsAvailable, Percentage: 0.15, Text: "15%"},
			{Signal: SignalImageFsInodesFree, Percentage: 0.05, Text: "5%"},
			{Signal: SignalMemoryAvailable, Quantity: 100 << 20, Text: "100Mi"},
			{Signal: SignalNodeFsAvailable, Percentage: 0.10, Text: "10%"},
			{Signal: SignalNodeFsInodesFree, Percentage: 0.05, Text: "5%"},
		}, ""},
		{"nodefs.available<99%", []Threshold{{Signal: SignalNodeFsAvailable, Percentage: 0.99, Text: "99%"}}, ""},
		{" memory.available < 1Gi , ", []Threshold{{Signal: SignalMemoryAvailable, Quantity: 1 << 30, Text: "1Gi"}}, ""},
		{"nodefs.available<0%,memory.available<100%", nil, ""}, // disabled, as in kubelet
		{"", nil, ""},
		{"pid.available<10%", []Threshold{{Signal: SignalPIDAvailable, Percentage: 0.10, Text: "10%"}}, ""},
		{"memory.available=100Mi", nil, `malformed pair, expect string<string: "memory.available=100Mi"`},
		{"disk.available<1Gi", nil, "unsupported eviction signal disk.available (supported: [imagefs.available imagefs.inodesFree memory.available nodefs.available nodefs.inodesFree pid.available])"},
		{"memory.available<0", nil, "eviction threshold memory.available must be positive: 0"},
		{"memory.available<-1Mi", nil, "eviction threshold memory.available must be positive: -1Mi"},
		{"nodefs.available<101%", nil, "eviction percentage threshold nodefs.available must be <= 100%: 101%"},
		{"nodefs.available<-1%", nil, "eviction percentage threshold nodefs.available must be >= 0%: -1%"},
		{"nodefs.available<abc%", nil, `eviction threshold nodefs.available: strconv.ParseFloat: parsing "abc": invalid syntax`},
		{"memory.available<lots", nil, "eviction threshold memory.available: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"},
		{"memory.available<1Gi,memory.available<2Gi", nil, "found duplicate eviction threshold for signal memory.available"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseEvictionHard(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := range got { // float32 parsing, as kubelet's
				got[i].Percentage = float64(float32(got[i].Percentage))
			}
			for i := range tt.want {
				tt.want[i].Percentage = float64(float32(tt.want[i].Percentage))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestThresholdsMetAndConditions(t *testing.T) {
	defaults, err := ParseEvictionHard(DefaultEvictionHard)
	if err != nil {
		t.Fatal(err)
	}
	healthy := Observations{
		SignalMemoryAvailable:   {Available: 1 << 30, Capacity: 8 << 30},
		SignalNodeFsAvailable:   {Available: 50 << 30, Capacity: 100 << 30},
		SignalNodeFsInodesFree:  {Available: 900, Capacity: 1000},
		SignalImageFsAvailable:  {Available: 50 << 30, Capacity: 100 << 30},
		SignalImageFsInodesFree: {Available: 900, Capacity: 1000},
	}
	with := func(s Signal, o Observation) Observations {
		out := Observations{}
		for k, v := range healthy {
			out[k] = v
		}
		out[s] = o
		return out
	}
	tests := []struct {
		name string
		obs  Observations
		want []api.NodeConditionType
	}{
		{"healthy", healthy, nil},
		{"memory below 100Mi", with(SignalMemoryAvailable, Observation{Available: 99 << 20, Capacity: 8 << 30}), []api.NodeConditionType{api.NodeMemoryPressure}},
		{"memory at 100Mi is not below", with(SignalMemoryAvailable, Observation{Available: 100 << 20, Capacity: 8 << 30}), nil},
		{"nodefs below 10%", with(SignalNodeFsAvailable, Observation{Available: 9 << 30, Capacity: 100 << 30}), []api.NodeConditionType{api.NodeDiskPressure}},
		{"nodefs inodes below 5%", with(SignalNodeFsInodesFree, Observation{Available: 49, Capacity: 1000}), []api.NodeConditionType{api.NodeDiskPressure}},
		{"imagefs below 15%", with(SignalImageFsAvailable, Observation{Available: 14 << 30, Capacity: 100 << 30}), []api.NodeConditionType{api.NodeDiskPressure}},
		{"imagefs at 15% is not below", with(SignalImageFsAvailable, Observation{Available: 15 << 30, Capacity: 100 << 30}), nil},
		{"unobserved signals meet nothing", Observations{}, nil},
		{"no pid.available threshold by default", with(SignalPIDAvailable, Observation{Available: 10, Capacity: 32768}), nil},
		{"pid.available below 10%", with(SignalPIDAvailable, Observation{Available: 3275, Capacity: 32768}), []api.NodeConditionType{api.NodePIDPressure}},
		{"pid.available at 10% (3276, truncated as kubelet does) is not below", with(SignalPIDAvailable, Observation{Available: 3276, Capacity: 32768}), nil},
	}
	withPID, err := ParseEvictionHard(DefaultEvictionHard + ",pid.available<10%")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			thresholds := defaults
			if _, ok := tt.obs[SignalPIDAvailable]; ok && !strings.HasPrefix(tt.name, "no pid") {
				thresholds = withPID
			}
			p := Pressure{TransitionPeriod: DefaultPressureTransitionPeriod}
			got := p.Update(ThresholdsMet(thresholds, tt.obs), time.Unix(1000, 0))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("conditions = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPressureTransitionPeriod: a condition stays for the transition
// period after its threshold was last met, then goes.
func TestPressureTransitionPeriod(t *testing.T) {
	disk := []Threshold{{Signal: SignalNodeFsAvailable, Percentage: 0.1, Text: "10%"}}
	p := Pressure{TransitionPeriod: time.Minute}
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at   time.Duration
		met  []Threshold
		want []api.NodeConditionType
	}{
		{0, disk, []api.NodeConditionType{api.NodeDiskPressure}},
		{30 * time.Second, nil, []api.NodeConditionType{api.NodeDiskPressure}},
		{59 * time.Second, nil, []api.NodeConditionType{api.NodeDiskPressure}},
		{60 * time.Second, nil, nil},
		{70 * time.Second, disk, []api.NodeConditionType{api.NodeDiskPressure}},
	}
	for _, s := range steps {
		if got := p.Update(s.met, t0.Add(s.at)); !reflect.DeepEqual(got, s.want) {
			t.Errorf("at %v: %v, want %v", s.at, got, s.want)
		}
	}
}

func TestAllocatableEphemeralStorage(t *testing.T) {
	const capacity = 100 << 30
	tests := []struct {
		flag string
		want int64
	}{
		{DefaultEvictionHard, 90 << 30},
		{"nodefs.available<5Gi", 95 << 30},
		{"nodefs.available<200Gi", 0},
		{"memory.available<1Gi", capacity},
		{"", capacity},
	}
	for _, tt := range tests {
		th, err := ParseEvictionHard(tt.flag)
		if err != nil {
			t.Fatal(err)
		}
		if got := AllocatableEphemeralStorage(capacity, th); got != tt.want {
			t.Errorf("%q: %d, want %d", tt.flag, got, tt.want)
		}
	}
}
