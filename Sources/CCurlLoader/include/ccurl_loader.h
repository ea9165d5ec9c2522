#ifndef STEADY_CCURL_LOADER_H
#define STEADY_CCURL_LOADER_H

// libcurl, loaded on first use with dlopen("libcurl.so.4") instead of linked: only the
// workers that speak HTTP map libcurl and its ~40 libraries (TLS, HTTP/2, IDN, ...); the
// supervisor and the other workers start without them (about 6 MB of RSS and 5 ms of exec
// time each). The types and constants come from <curl/curl.h>; every call goes through
// these wrappers, which also replace the variadic curl_easy_setopt/getinfo.

#include <curl/curl.h>

/// Loads libcurl once (thread-safe). 1 when it is usable; 0 otherwise, with the reason
/// available from steady_curl_load_error().
int steady_curl_load(void);
const char *steady_curl_load_error(void);

CURLcode steady_curl_global_init(long flags);
CURL *steady_curl_easy_init(void);
void steady_curl_easy_cleanup(CURL *h);
void steady_curl_easy_reset(CURL *h);
CURLcode steady_curl_easy_perform(CURL *h);
const char *steady_curl_easy_strerror(CURLcode code);
const char *steady_curl_version(void);
struct curl_slist *steady_curl_slist_append(struct curl_slist *list, const char *s);
void steady_curl_slist_free_all(struct curl_slist *list);

CURLcode steady_curl_setopt_long(CURL *h, CURLoption o, long v);
CURLcode steady_curl_setopt_ptr(CURL *h, CURLoption o, const void *v);
CURLcode steady_curl_setopt_off_t(CURL *h, CURLoption o, curl_off_t v);
CURLcode steady_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v);
/// CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION share curl_write_callback's signature.
CURLcode steady_curl_setopt_write_callback(CURL *h, CURLoption o, curl_write_callback f);
/// CURLOPT_PREREQFUNCTION (libcurl >= 7.80): called once a connection is established or
/// reused, just before the request goes out on it.
CURLcode steady_curl_setopt_prereq_callback(CURL *h, curl_prereq_callback f);
/// CURLOPT_READFUNCTION: a request body read on demand while it is sent.
CURLcode steady_curl_setopt_read_callback(CURL *h, curl_read_callback f);
CURLcode steady_curl_getinfo_long(CURL *h, CURLINFO i, long *v);
CURLcode steady_curl_getinfo_off_t(CURL *h, CURLINFO i, curl_off_t *v);
CURLcode steady_curl_getinfo_string(CURL *h, CURLINFO i, char **v);

#endif
