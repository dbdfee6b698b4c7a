# Container image of the arc-lockdown binary, as the Helm chart runs it.
# NOTE: no container engine runs where this project is developed and tested,
# so this file has not been built there.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY github/ github/
COPY lockdown/ lockdown/
RUN CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o /arc-lockdown ./cmd/arc-lockdown

# The chart runs the container as a non-root user with a read-only root
# file system; the binary needs nothing but itself and CA certificates.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /arc-lockdown /arc-lockdown
USER 65532:65532
ENTRYPOINT ["/arc-lockdown"]
