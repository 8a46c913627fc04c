Subject: {{first_name|Hello}}, your {{plan|new}} plan is ready

--- text
Hi {{first_name|there}},

Thanks for joining Toko Kirim{{#city}} from {{city}}{{/city}}. Your {{plan|free}} plan
is ready, and this month's picks are waiting for you.

See them in your browser: {{view_url}}

You get this email because you signed up at toko.example.com.
Unsubscribe with one click: {{unsubscribe_url}}
--- html
<!doctype html>
<html lang="en">
<body style="font-family: sans-serif; color: #222;">
  <p>Hi {{first_name|there}},</p>
  <p>Thanks for joining <b>Toko Kirim</b>{{#city}} from {{city}}{{/city}}.
     Your <b>{{plan|free}}</b> plan is ready, and this month's picks are waiting for you.</p>
  <p><a href="{{view_url}}">See them in your browser</a></p>
  <p style="font-size: 12px; color: #666;">You get this email because you signed up at
     toko.example.com. <a href="{{unsubscribe_url}}">Unsubscribe with one click</a>.</p>
</body>
</html>
