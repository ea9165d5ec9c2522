#include <curl/curl.h>
// curl_easy_setopt/getinfo are variadic: one typed wrapper per argument kind.
static inline CURLcode steady_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode steady_curl_setopt_ptr(CURL *h, CURLoption o, const void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode steady_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
// Used by SteadyHTTP's client.
static inline CURLcode steady_curl_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode steady_curl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
/// CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION share curl_write_callback's signature.
static inline CURLcode steady_curl_setopt_write_callback(CURL *h, CURLoption o, curl_write_callback f) { return curl_easy_setopt(h, o, f); }
/// CURLOPT_PREREQFUNCTION (libcurl >= 7.80): called once a connection is established or
/// reused, just before the request goes out on it.
static inline CURLcode steady_curl_setopt_prereq_callback(CURL *h, curl_prereq_callback f) { return curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, f); }
static inline CURLcode steady_curl_getinfo_off_t(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode steady_curl_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
