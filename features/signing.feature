Feature: HMAC-signed requests
  A service account's key signs every request (DPaaS API reference, HMAC authentication):
  "Authorization: HMAC {access_key}:{signature}" with x-date, x-nonce and x-content-sha256,
  over the method, the path and the query as sent, x-date, x-nonce and the body's SHA-256. A
  request changed after signing is refused with 401, and so is one whose headers are missing or
  cannot be read. The keys here belong to service accounts the suite creates, which may have no
  rights: a 403 still shows that a request was authenticated.

  @must @AUTH-18
  Scenario: Every protected endpoint accepts a signed request, and users manage service accounts with bearer tokens
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a signed request to every protected endpoint of the classes the target claims
    Then none of those answers is a 401 or a server error

  @must @HMAC-1 @HMAC-2
  Scenario Outline: A request signed as the profile says is authenticated: <request>
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send <request> signed with that key
    Then the signed request is authenticated

    Examples:
      | request                                            |
      | GET "/accounts"                                    |
      | GET "/accounts?page=1&quantity=5"                  |
      | GET "/users?order_by=email&page=1"                 |
      | POST "/accounts" with a JSON body                  |

  @must @HMAC-3
  Scenario: A body that is not the one whose hash was signed is refused
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a POST whose x-content-sha256 is signed but is not the hash of its body
    Then the response status is 401

  @must @HMAC-4
  Scenario Outline: A signed request without its <header> header is refused with 401
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a signed request without its "<header>" header
    Then the response status is 401

    Examples:
      | header           |
      | Authorization    |
      | x-date           |
      | x-nonce          |
      | x-content-sha256 |

  @must @HMAC-4
  Scenario Outline: A signed request whose <what> cannot be read is refused with 401
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a signed request whose <what>
    Then the response status is 401

    Examples:
      | what                                         |
      | Authorization has no colon                   |
      | Authorization has an empty access key        |
      | Authorization has an empty signature         |
      | Authorization names a key that does not exist |
      | x-date says "yesterday"                      |
      | x-date is "2025-13-45T99:99:99Z"             |

  @must @HMAC-4
  Scenario: Header names match in any case
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a signed request with its header names in upper case
    Then the signed request is authenticated

  @should @HMAC-4
  Scenario: The scheme name matches in any case
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a signed request whose scheme is written "hmac"
    Then the signed request is authenticated

  @must @HMAC-5
  Scenario Outline: A request whose <part> changed after signing is refused with 401
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they sign a request and change its <part> before sending it
    Then the response status is 401

    Examples:
      | part     |
      | method   |
      | path     |
      | query    |
      | body     |
      | x-date   |
      | x-nonce  |

  @must @HMAC-5
  Scenario: A request signed with a wrong secret is refused with 401
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a request signed with a wrong secret for that key
    Then the response status is 401

  @must @HMAC-10 @ERR-7
  Scenario Outline: A signed request refused for <cause> gets the Unauthorized error body
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a signed request refused for <cause>
    Then the response is a "Unauthorized" error with status 401

    Examples:
      | cause                        |
      | a wrong signature            |
      | an unknown key               |
      | a used nonce                 |
      | an x-date an hour ago        |
      | a body hash that does not match |
      | a revoked key                |

  @should @HMAC-10
  Scenario: An unknown key and a wrong signature get the same answer
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a request signed with an unknown key, and one with a wrong signature
    Then both answers are the same: status, body and header names

  @should @HMAC-10
  Scenario: A 401 to a signed request challenges for HMAC
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send a signed request refused for a wrong signature
    Then the response status is 401
    And the response header "WWW-Authenticate" includes "HMAC"

  @must @HMAC-11
  Scenario: Once authenticated, the service account's own rights decide
    Given the admin user is logged in
    And they have created 1 service account
    And they have issued a key for it
    When they send GET "/accounts" signed with that key
    Then the response is a success or a "Forbidden" error with status 403

  @must @HMAC-12
  Scenario: A key is refused once its service account's account is deleted
    Given the admin user is logged in
    And they have created 1 account
    And they have created 1 service account for that account
    And they have issued a key for it
    And a request signed with that key is authenticated
    When they delete the account the service account belongs to
    And they send a request signed with that key
    Then the response status is 401
