Feature: Logging in
  A user logs in with email, password and organization slug and gets back a
  15-minute RS256 access token and a refresh token ("Your First API Call", step 1).
  Requirement ids are those of the project's registry (dpaas_conformance/requirements.py).

  @must @AUTH-1 @AUTH-2
  Scenario: Logging in returns a bearer access token and a refresh token
    When the admin user logs in
    Then the response body is a token response
    And the access token is an RS256 JWT with the claims "sub" and "exp"

  @should @AUTH-3
  Scenario: The access token lives 15 minutes from now
    When the admin user logs in
    Then the response status is 200
    And the access token expires 900 seconds after it was issued, and was issued just now

  @should @AUTH-6
  Scenario: A login response is never cached
    When the admin user logs in
    Then the response status is 200
    And the response header "Cache-Control" includes "no-store"

  @must @AUTH-4 @ERR-0
  Scenario Outline: A login without a required field is a validation error
    When the admin user logs in without "<field>"
    Then the response is a "ValidationError" error with status 422
    And the error details name "<field>"

    Examples:
      | field             |
      | email             |
      | password          |
      | organization_slug |

  @must @AUTH-4 @ERR-0
  Scenario Outline: A login with a wrongly typed field is a validation error
    When the admin user logs in with "<field>" set to <value>
    Then the response is a "ValidationError" error with status 422
    And the error details name "<field>"

    Examples:
      | field             | value      |
      | email             | 42         |
      | password          | null       |
      | password          | ["secret"] |
      | organization_slug | {"a": 1}   |

  @must @AUTH-5
  Scenario Outline: A login with a wrong <credential> is refused without a token
    When the admin user logs in with a wrong <credential>
    Then the response is a client error whose JSON body has an error and a message
    And the response carries no token

    Examples:
      | credential        |
      | password          |
      | email             |
      | organization_slug |

  # Against another principal than the MUST rows above (limited, else other, else admin): each
  # principal loses at most one password per run (see the README on failed logins).
  @should @AUTH-5
  Scenario: Every kind of bad credential gets the same 401 answer
    When a principal other than the admin logs in with a wrong password, then a wrong email, then a wrong organization_slug
    Then each of those answers is the same "Unauthorized" error with status 401

  # Runs after every other scenario, on every worker: it may throttle this client's logins.
  @should @AUTH-7 @ERR-1
  Scenario: Repeated failed logins are throttled
    When someone keeps failing to log in as one unknown user, at most 30 times
    Then the logins were throttled with status 429 and a Retry-After saying when to retry
    And an error in that answer has the profile's shape and name for its status
