package serving

import "strings"

// ClientGroupName prefixes the keys of Knative's client conventions,
// which clients set and the platform leaves alone.
const ClientGroupName = "client.knative.dev"

// UserImageAnnotation is, on a revision template, the image as the user
// gave it, most often by tag. A client that changes only settings runs the
// code of the current Revision by writing the digest that Revision ran in
// the image field (kn's --lock-to-digest); the annotation keeps the tag,
// to show and to go back to.
const UserImageAnnotation AnnotationKey = ClientGroupName + "/user-image"

// LocalImage reports whether image names an executable the node builds or
// finds itself (ko://…, an absolute path) rather than a registry's image.
func LocalImage(image string) bool {
	return strings.Contains(image, "://") || strings.HasPrefix(image, "/")
}

// DigestImage reports whether image names its content by digest
// (REPO@sha256:…, with or without a tag before the @).
func DigestImage(image string) bool {
	return strings.Contains(image, "@")
}

// UserImage returns the image a template's container runs as the user
// gave it: the user-image annotation when it names the same repository as
// image (a client pinned the tag to a digest), else image itself, as an
// annotation that names another repository is stale.
func UserImage(annotations map[string]string, image string) string {
	user, ok := UserImageAnnotation.Get(annotations)
	if ok && imageRepository(user) == imageRepository(image) {
		return user
	}
	return image
}

// imageRepository is image without its digest and tag:
// localhost:5000/app:v1@sha256:… gives localhost:5000/app.
func imageRepository(image string) string {
	image, _, _ = strings.Cut(image, "@")
	// A colon after the last slash starts a tag; one before it is a
	// registry's port or a scheme (ko://).
	if colon := strings.LastIndex(image, ":"); colon > strings.LastIndex(image, "/") {
		image = image[:colon]
	}
	return image
}
