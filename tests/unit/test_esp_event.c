/* test_esp_event - providers' webhook payloads, SNS's signed string, the certificate URL rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kirim/buf.h"
#include "kirim/esp_event.h"
#include "kirim/http_url.h"

/* One payload and what its first event must say ("kind hint address status message_id
 * campaign id"), or the reason it is refused. */
static const struct {
	const char *label;
	enum esp_provider p;
	const char *in;
	size_t n;         /* events */
	const char *want; /* the first event, or a substring of the reason */
} cases[] = {
    {"SES permanent bounce", ESP_SES,
     "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Permanent\",\"bounceSubType\":"
     "\"General\",\"bouncedRecipients\":[{\"emailAddress\":\"a@b.test\",\"status\":\"5.1.1\","
     "\"diagnosticCode\":\"smtp; 550 5.1.1 no\"},{\"emailAddress\":\"c@b.test\"}]},\"mail\":{"
     "\"commonHeaders\":{\"messageId\":\"<k.T@b.test>\"},\"headers\":[{\"name\":\"Feedback-ID\","
     "\"value\":\"7:kirim:news\"}]}}",
     2, "bounce hard a@b.test 5.1.1 k.T@b.test 7 sns-1/a@b.test"},
    {"SES transient, Message-ID from headers", ESP_SES,
     "{\"notificationType\":\"Bounce\",\"bounce\":{\"bounceType\":\"Transient\",\"bounced"
     "Recipients\":[{\"emailAddress\":\"a@b.test\"}]},\"mail\":{\"headers\":[{\"name\":"
     "\"message-id\",\"value\":\" <k.U@b.test>\"}]}}",
     1, "bounce soft a@b.test - k.U@b.test - sns-1/a@b.test"},
    {"SES complaint", ESP_SES,
     "{\"notificationType\":\"Complaint\",\"complaint\":{\"complainedRecipients\":[{\"email"
     "Address\":\"a@b.test\"}]}}",
     1, "complaint none a@b.test - - - sns-1/a@b.test"},
    {"SES delivery", ESP_SES,
     "{\"notificationType\":\"Delivery\",\"delivery\":{\"recipients\":[\"a@b.test\"]}}", 1,
     "delivered none a@b.test - - - sns-1/a@b.test"},
    {"SES other type", ESP_SES, "{\"notificationType\":\"Send\"}", 0, NULL},
    {"SES not SES", ESP_SES, "{\"Type\":\"Notification\"}", 0, "notificationType"},
    {"SendGrid batch", ESP_SENDGRID,
     "[{\"email\":\"a@b.test\",\"event\":\"bounce\",\"type\":\"blocked\",\"status\":\"4.7.1\","
     "\"sg_event_id\":\"e1\",\"smtp-id\":\"<k.V@b.test>\",\"kirim_campaign\":\"spring\"},"
     "{\"email\":\"b@b.test\",\"event\":\"click\"}, 3, {\"no\":\"event\"}]",
     2, "bounce soft a@b.test 4.7.1 k.V@b.test spring e1"},
    {"SendGrid dropped", ESP_SENDGRID,
     "[{\"email\":\"a@b.test\",\"event\":\"dropped\",\"reason\":\"Bounced Address\","
     "\"sg_event_id\":\"e2\"}]",
     1, "bounce hard a@b.test - - - e2"},
    {"SendGrid not an array", ESP_SENDGRID, "{\"event\":\"bounce\"}", 0, "JSON array"},
    {"Postmark hard bounce", ESP_POSTMARK,
     "{\"RecordType\":\"Bounce\",\"ID\":42,\"Type\":\"HardBounce\",\"Tag\":\"spring\","
     "\"Email\":\"a@b.test\",\"Details\":\"smtp;550 5.1.1 no\"}",
     1, "bounce hard a@b.test - - spring Bounce/42"},
    {"Postmark metadata names the campaign", ESP_POSTMARK,
     "{\"RecordType\":\"Bounce\",\"ID\":43,\"Type\":\"SoftBounce\",\"Tag\":\"x\",\"Metadata\":"
     "{\"kirim_campaign\":\"9\"},\"Email\":\"a@b.test\"}",
     1, "bounce soft a@b.test - - 9 Bounce/43"},
    {"Postmark spam complaint", ESP_POSTMARK,
     "{\"RecordType\":\"SpamComplaint\",\"ID\":44,\"Type\":\"SpamComplaint\",\"Email\":"
     "\"a@b.test\"}",
     1, "complaint none a@b.test - - - SpamComplaint/44"},
    {"Postmark auto-responder", ESP_POSTMARK,
     "{\"RecordType\":\"Bounce\",\"ID\":45,\"Type\":\"AutoResponder\",\"Email\":\"a@b.test\"}", 1,
     "other none a@b.test - - - Bounce/45"},
    {"Postmark not Postmark's", ESP_POSTMARK, "[1]", 0, "RecordType"},
};

static const char *
dash(const char *s)
{
	return *s ? s : "-";
}

static void
test_payloads(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct esp_batch b;
		const char *why = NULL, *in = cases[i].in;
		int rc = cases[i].p == ESP_SES ? esp_ses_parse(in, strlen(in), "sns-1", &b, &why)
		         : cases[i].p == ESP_SENDGRID
		             ? esp_sendgrid_parse(in, strlen(in), &b, &why)
		             : esp_postmark_parse(in, strlen(in), &b, &why);
		if (rc < 0) {
			if (cases[i].want == NULL || strstr(why, cases[i].want) == NULL)
				fail_msg("%s: refused [%s], want [%s]", cases[i].label, why,
				         cases[i].want ? cases[i].want : "taken");
			continue;
		}
		if (b.n != cases[i].n)
			fail_msg("%s: %zu events, want %zu", cases[i].label, b.n, cases[i].n);
		if (b.n) {
			static const char *const hints[] = {"none", "hard", "soft"};
			const struct esp_event *e = &b.ev[0];
			char got[512];
			snprintf(got, sizeof(got), "%s %s %s %s %s %s %s", esp_kind_name(e->kind),
			         hints[e->hint], e->address, dash(e->status), dash(e->message_id),
			         dash(e->campaign), e->id);
			if (strcmp(got, cases[i].want) != 0)
				fail_msg("%s: got [%s] want [%s]", cases[i].label, got,
				         cases[i].want);
		}
		esp_batch_free(&b);
	}
}

/* The string SNS signs, for each type (its documentation's field lists). */
static void
test_sns_canonical(void **state)
{
	(void)state;
	const char *note = "{\"Type\":\"Notification\",\"MessageId\":\"m\",\"TopicArn\":\"t\","
	                   "\"Message\":\"hi\\nthere\",\"Timestamp\":\"ts\",\"SignatureVersion\":"
	                   "\"1\",\"Signature\":\"s\",\"SigningCertURL\":\"u\",\"UnsubscribeURL\":"
	                   "\"x\"}";
	const char *sub = "{\"Type\":\"SubscriptionConfirmation\",\"MessageId\":\"m\",\"Token\":"
	                  "\"k\",\"TopicArn\":\"t\",\"Message\":\"hi\",\"SubscribeURL\":\"s\","
	                  "\"Timestamp\":\"ts\",\"SignatureVersion\":\"2\",\"Signature\":\"s\","
	                  "\"SigningCertURL\":\"u\"}";
	const struct {
		const char *in, *want;
	} t[] = {
	    {note, "Message\nhi\nthere\nMessageId\nm\nTimestamp\nts\nTopicArn\nt\nType\n"
	           "Notification\n"},
	    {sub, "Message\nhi\nMessageId\nm\nSubscribeURL\ns\nTimestamp\nts\nToken\nk\nTopicArn\n"
	          "t\nType\nSubscriptionConfirmation\n"},
	};
	for (size_t i = 0; i < 2; i++) {
		struct esp_sns m;
		const char *why;
		assert_int_equal(esp_sns_parse(t[i].in, strlen(t[i].in), &m, &why), 0);
		struct buf b = BUF_INIT;
		esp_sns_canonical(&m, &b);
		buf_addc(&b, '\0');
		if (strcmp(b.data, t[i].want) != 0)
			fail_msg("canonical %zu: got [%s] want [%s]", i, b.data, t[i].want);
		buf_free(&b);
		esp_sns_free(&m);
	}
	struct esp_sns m;
	const char *why = NULL;
	assert_int_equal(esp_sns_parse("{\"Type\":\"Other\"}", 16, &m, &why), -1);
	assert_non_null(strstr(why, "Type"));
	assert_int_equal(esp_sns_parse("{\"Type\":\"SubscriptionConfirmation\"}", 35, &m, &why),
	                 -1);
}

static void
test_url_rule(void **state)
{
	(void)state;
	const char *aws = "sns.*.amazonaws.com, sns.*.amazonaws.com.cn";
	const struct {
		const char *url, *want; /* "host port path", or a substring of the reason */
	} t[] = {
	    {"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
	     "sns.us-east-1.amazonaws.com 443 /SimpleNotificationService-abc.pem"},
	    {"https://SNS.cn-north-1.amazonaws.com.cn/x.pem",
	     "sns.cn-north-1.amazonaws.com.cn 443 /x.pem"},
	    {"https://sns.us-east-1.amazonaws.com:8443/?Action=x",
	     "sns.us-east-1.amazonaws.com 8443 /?Action=x"},
	    {"https://sns.us-east-1.amazonaws.com", "sns.us-east-1.amazonaws.com 443 /"},
	    {"http://sns.us-east-1.amazonaws.com/x.pem", "not an https URL"},
	    {"https://sns.us-east-1.amazonaws.com.evil.example/x.pem", "not one the configuration"},
	    {"https://evil.example/sns.us-east-1.amazonaws.com/x.pem", "not one the configuration"},
	    {"https://sns..amazonaws.com/x.pem", "not one the configuration"},
	    {"https://sns.a.b.amazonaws.com/x.pem", "not one the configuration"},
	    {"https://x@sns.us-east-1.amazonaws.com/x.pem", "plain"},
	    {"https://sns.us-east-1.amazonaws.com:0/x.pem", "bad port"},
	    {"https://sns.us-east-1.amazonaws.com:99999/x.pem", "bad port"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct http_url u;
		char got[2400];
		const char *why = NULL;
		if (esp_url_split(t[i].url, aws, &u, &why) < 0)
			snprintf(got, sizeof(got), "%s", why);
		else
			snprintf(got, sizeof(got), "%s %u %s", u.host, u.port, u.path);
		if (strstr(got, t[i].want) == NULL)
			fail_msg("%s: got [%s] want [%s]", t[i].url, got, t[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_payloads),
	                                   cmocka_unit_test(test_sns_canonical),
	                                   cmocka_unit_test(test_url_rule)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
