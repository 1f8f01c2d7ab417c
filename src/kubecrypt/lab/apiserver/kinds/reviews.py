"""Create-only APIs that store nothing: authentication.k8s.io/v1 TokenReview and
SelfSubjectReview, authorization.k8s.io/v1 SelfSubjectAccessReview and SubjectAccessReview.
Served by ``app`` (tokens and the authorizer); listed here for discovery and routing."""

from __future__ import annotations

from kubecrypt.lab.apiserver.resources import Resource

_CREATE = ("create",)

TOKEN_REVIEWS = Resource("authentication.k8s.io", "v1", "tokenreviews", "tokenreview",
                         "TokenReview", False, False, _CREATE, virtual=True)
SELF_SUBJECT_REVIEWS = Resource("authentication.k8s.io", "v1", "selfsubjectreviews",
                                "selfsubjectreview", "SelfSubjectReview", False, False, _CREATE,
                                virtual=True)
SELF_SUBJECT_ACCESS_REVIEWS = Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews",
                                       "selfsubjectaccessreview", "SelfSubjectAccessReview",
                                       False, False, _CREATE, virtual=True)
SUBJECT_ACCESS_REVIEWS = Resource("authorization.k8s.io", "v1", "subjectaccessreviews",
                                  "subjectaccessreview", "SubjectAccessReview", False, False,
                                  _CREATE, virtual=True)
RESOURCES = (TOKEN_REVIEWS, SELF_SUBJECT_REVIEWS, SELF_SUBJECT_ACCESS_REVIEWS,
             SUBJECT_ACCESS_REVIEWS)
