package flags

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	servingv1 "flywheel.dev/pkg/apis/serving/v1"
)

const (
	containersFlag = "containers"
	// extraContainersFlag is kn's older name of --containers.
	extraContainersFlag = "extra-containers"
	// stdinFile is the file name that means standard input.
	stdinFile = "-"
)

// ContainerList is the file --containers reads and fw container add
// writes: a pod spec's containers, as kn's --containers takes them.
type ContainerList struct {
	Containers []corev1.Container `json:"containers"`
}

// SetStdin gives --containers - the command's standard input.
func (f *ServiceFlags) SetStdin(r io.Reader) { f.more.stdin = r }

// moreContainers are --containers and what it read.
type moreContainers struct {
	file  string
	stdin io.Reader
	// read is what the file held, nil until read (a file without
	// containers is refused).
	read []corev1.Container
}

func (m *moreContainers) add(fs *pflag.FlagSet) {
	help := "file of more containers, a pod spec's containers: list as fw container add prints it, or - for standard input; each replaces the container of its name or is added beside the serving one"
	fs.StringVar(&m.file, containersFlag, "", help)
	fs.StringVar(&m.file, extraContainersFlag, "", help)
	_ = fs.MarkHidden(extraContainersFlag)
}

// containers reads the file once: Check and Apply both need it, and
// standard input can be read only once.
func (m *moreContainers) containers() ([]corev1.Container, error) {
	if m.read != nil {
		return m.read, nil
	}
	r := m.stdin
	if m.file != stdinFile {
		f, err := os.Open(m.file)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", containersFlag, err)
		}
		defer f.Close()
		r = f
	}
	if r == nil {
		return nil, fmt.Errorf("--%s -: this command has no standard input to read", containersFlag)
	}
	list, err := ReadContainers(r)
	if err != nil {
		return nil, fmt.Errorf("--%s %s: %w", containersFlag, m.file, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("--%s %s holds no containers: want a containers: list, as fw container add prints", containersFlag, m.file)
	}
	m.read = list
	return list, nil
}

// ReadContainers reads a ContainerList in YAML or JSON; empty input is
// an empty list.
func ReadContainers(r io.Reader) ([]corev1.Container, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var list ContainerList
	if err := yaml.UnmarshalStrict(b, &list); err != nil {
		return nil, fmt.Errorf("not a containers: list: %w", err)
	}
	return list.Containers, nil
}

// addContainers puts the containers of --containers into spec beside
// main, the serving container, which the other flags edit.
func (f *ServiceFlags) addContainers(spec *servingv1.RevisionSpec, main *corev1.Container) error {
	if !f.changed(containersFlag) && !f.changed(extraContainersFlag) {
		return nil
	}
	more, err := f.more.containers()
	if err != nil {
		return err
	}
	mainName := main.Name
	for _, c := range more {
		switch c.Name {
		case "":
			return fmt.Errorf("--%s %s: every container needs a name, to tell it from the serving one (fw container add NAME names it)", containersFlag, f.more.file)
		case mainName:
			return fmt.Errorf("--%s %s: container %s is the serving container, which the other flags edit: give another name", containersFlag, f.more.file, c.Name)
		}
		if i := slices.IndexFunc(spec.Containers, func(old corev1.Container) bool { return old.Name == c.Name }); i >= 0 {
			spec.Containers[i] = c
		} else {
			spec.Containers = append(spec.Containers, c)
		}
	}
	if !slices.ContainsFunc(spec.Containers, func(c corev1.Container) bool { return len(c.Ports) > 0 }) {
		return errors.New("a Service with several containers serves on the one with a port: give --port for the serving container (e.g. --port 8080)")
	}
	return nil
}
